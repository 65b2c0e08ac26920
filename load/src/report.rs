//! A run's report: what was sent and delivered, latency, CPU and
//! memory; printed as a table or saved as JSON.

use crate::*;

#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Report {
    pub scenario: String,
    pub connections: usize,
    pub connect_secs: f64,
    pub sent: u64,
    pub send_errors: u64,
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub latency_us_p50: u64,
    pub latency_us_p99: u64,
    pub latency_us_p999: u64,
    pub latency_us_max: u64,
    pub reconnects: u64,
    pub resets: u64,
    /// `idle`: connections that never joined (or, with `--require-ping`,
    /// were never pinged), or that closed.
    pub dropped: u64,
    pub reconnect_us_p50: u64,
    pub reconnect_us_p99: u64,
    pub server_cpu_percent: Option<f64>,
    pub server_rss_kib_start: Option<u64>,
    pub server_rss_kib_end: Option<u64>,
    pub server_rss_kib_per_connection: Option<f64>,
    pub loadgen_cpu_percent: f64,
    pub notes: Vec<String>,
}

pub fn fill_latency(report: &mut Report, latency: &hdrhistogram::Histogram<u64>) {
    report.latency_us_p50 = latency.value_at_quantile(0.5);
    report.latency_us_p99 = latency.value_at_quantile(0.99);
    report.latency_us_p999 = latency.value_at_quantile(0.999);
    report.latency_us_max = latency.max();
}

pub fn print_table(report: &Report) {
    let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
    let opt_u = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    println!("scenario              {}", report.scenario);
    for note in &report.notes {
        println!("                      {note}");
    }
    println!(
        "connections           {} (opened in {:.2} s)",
        report.connections, report.connect_secs
    );
    println!(
        "sent                  {} ({} refused)",
        report.sent, report.send_errors
    );
    println!(
        "deliveries            {} of {} expected",
        report.deliveries, report.expected_deliveries
    );
    println!("deliveries/s          {:.0}", report.deliveries_per_sec);
    println!(
        "lost / dup / reorder  {} / {} / {}",
        report.lost, report.duplicates, report.out_of_order
    );
    println!(
        "latency µs            p50 {}  p99 {}  p99.9 {}  max {}",
        report.latency_us_p50, report.latency_us_p99, report.latency_us_p999, report.latency_us_max
    );
    if report.dropped > 0 {
        println!(
            "dropped               {} (never joined or pinged, or closed)",
            report.dropped
        );
    }
    if report.reconnects > 0 {
        println!(
            "reconnects            {} (reconnect to joined: p50 {} µs, p99 {} µs; {} resets)",
            report.reconnects, report.reconnect_us_p50, report.reconnect_us_p99, report.resets
        );
    }
    println!(
        "server                cpu {}%  rss {} -> {} KiB  per connection {} KiB",
        opt(report.server_cpu_percent),
        opt_u(report.server_rss_kib_start),
        opt_u(report.server_rss_kib_end),
        opt(report.server_rss_kib_per_connection)
    );
    println!(
        "load generator        cpu {:.0}%",
        report.loadgen_cpu_percent
    );
}
