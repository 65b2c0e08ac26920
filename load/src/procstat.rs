//! CPU time and resident memory of a process (the server, and the load
//! generator itself), read from Linux's /proc.

use crate::Report;
use std::time::Instant;

/// One reading: when, CPU seconds used so far by the server and by us, and
/// the server's resident memory.
pub struct Sample {
    at: Instant,
    server_cpu_secs: Option<f64>,
    own_cpu_secs: f64,
    server_rss_kib: Option<u64>,
}

fn clock_ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `/proc/<pid>/stat`, in seconds.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_sec())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub fn sample(server_pid: Option<u32>) -> Sample {
    Sample {
        at: Instant::now(),
        server_cpu_secs: server_pid.and_then(|pid| cpu_secs(&pid.to_string())),
        own_cpu_secs: cpu_secs("self").unwrap_or(0.0),
        server_rss_kib: server_pid.and_then(rss_kib),
    }
}

/// Fills CPU (as % of one core) and memory figures between two samples;
/// with `per_connection`, the memory growth per connection too.
pub fn fill(report: &mut Report, start: &Sample, end: &Sample, per_connection: Option<usize>) {
    fill_cpu(report, start, end);
    fill_memory(report, start, end, per_connection);
}

/// The server's and the generator's CPU between two samples, as % of one
/// core.
pub fn fill_cpu(report: &mut Report, start: &Sample, end: &Sample) {
    let secs = end.at.duration_since(start.at).as_secs_f64().max(1e-9);
    report.server_cpu_percent = match (start.server_cpu_secs, end.server_cpu_secs) {
        (Some(a), Some(b)) => Some((b - a) / secs * 100.0),
        _ => None,
    };
    report.loadgen_cpu_percent = (end.own_cpu_secs - start.own_cpu_secs) / secs * 100.0;
}

/// The server's resident memory at both samples; with `per_connection`,
/// its growth per connection.
pub fn fill_memory(
    report: &mut Report,
    start: &Sample,
    end: &Sample,
    per_connection: Option<usize>,
) {
    report.server_rss_kib_start = start.server_rss_kib;
    report.server_rss_kib_end = end.server_rss_kib;
    if let (Some(n), Some(a), Some(b)) = (per_connection, start.server_rss_kib, end.server_rss_kib)
    {
        report.server_rss_kib_per_connection = Some(b.saturating_sub(a) as f64 / n.max(1) as f64);
    }
}
