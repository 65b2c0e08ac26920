//! Medians of several runs of one scenario: the figures BENCHMARKS.md
//! quotes. Runs save their reports with `--report-to` (one JSON report per
//! line); `flack-load medians FILE` reads them back.
//!
//! Invariant: a median never hides a failure. Lost, duplicated, reordered
//! and refused messages, resets and dropped connections are summed over
//! the runs, so the medians fail their check if any run failed its own.

use crate::{BoxError, Report};
use std::cmp::Ordering;
use std::io::Write;
use std::path::Path;

/// Appends `report` to `path` as one line of JSON.
pub fn save(report: &Report, path: &Path) -> Result<(), BoxError> {
    let mut line = serde_json::to_string(report)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write per report, so runs appending at once do not interleave.
    file.write_all(line.as_bytes())?;
    Ok(())
}

/// The reports saved in `path`, one per line.
pub fn load(path: &Path) -> Result<Vec<Report>, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("{} line {}: not a report: {e}", path.display(), i + 1).into())
        })
        .collect()
}

/// The middle value (with an even count, the lower of the two middles).
fn middle<T: Copy>(mut values: Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) -> Option<T> {
    values.sort_by(cmp);
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// The median of the runs that measured `field` (`None` if none did).
fn median_opt<T: Copy>(
    runs: &[Report],
    field: impl Fn(&Report) -> Option<T>,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Option<T> {
    middle(runs.iter().filter_map(field).collect(), cmp)
}

fn median_u64(runs: &[Report], field: impl Fn(&Report) -> u64) -> u64 {
    median_opt(runs, |r| Some(field(r)), Ord::cmp).unwrap_or(0)
}

fn median_f64(runs: &[Report], field: impl Fn(&Report) -> f64) -> f64 {
    median_opt(runs, |r| Some(field(r)), f64::total_cmp).unwrap_or(0.0)
}

fn sum(runs: &[Report], field: impl Fn(&Report) -> u64) -> u64 {
    runs.iter().map(field).sum()
}

/// One report of the runs' medians, field by field; failures summed.
pub fn medians(runs: &[Report]) -> Result<Report, BoxError> {
    let first = runs.first().ok_or("no reports to take the median of")?;
    if let Some(other) = runs.iter().find(|r| r.scenario != first.scenario) {
        return Err(format!(
            "the reports are of different scenarios ({} and {})",
            first.scenario, other.scenario
        )
        .into());
    }
    // Notes every run shares describe the scenario; the others (a failed
    // viewer's reason, say) are kept with their run's number.
    let shared = |note: &String| runs.iter().all(|r| r.notes.contains(note));
    let mut notes: Vec<String> = first.notes.iter().filter(|n| shared(n)).cloned().collect();
    for (i, run) in runs.iter().enumerate() {
        notes.extend(
            run.notes
                .iter()
                .filter(|n| !shared(n))
                .map(|note| format!("run {}: {note}", i + 1)),
        );
    }
    let mut summary = match runs.len() {
        1 => "median of 1 run".to_owned(),
        n => format!("median of {n} runs"),
    };
    // Over the runs that delivered: one that delivered nothing has no p99.
    let p99s = runs
        .iter()
        .filter(|r| r.deliveries > 0)
        .map(|r| r.latency_us_p99);
    if let (Some(lowest), Some(highest)) = (p99s.clone().min(), p99s.max()) {
        summary.push_str(&format!("; p99 from {lowest} to {highest} µs"));
    }
    summary.push_str("; failures summed over the runs");
    notes.push(summary);
    Ok(Report {
        scenario: first.scenario.clone(),
        connections: median_u64(runs, |r| r.connections as u64) as usize,
        connect_secs: median_f64(runs, |r| r.connect_secs),
        sent: median_u64(runs, |r| r.sent),
        send_errors: sum(runs, |r| r.send_errors),
        expected_deliveries: median_u64(runs, |r| r.expected_deliveries),
        deliveries: median_u64(runs, |r| r.deliveries),
        deliveries_per_sec: median_f64(runs, |r| r.deliveries_per_sec),
        lost: sum(runs, |r| r.lost),
        duplicates: sum(runs, |r| r.duplicates),
        out_of_order: sum(runs, |r| r.out_of_order),
        latency_us_p50: median_u64(runs, |r| r.latency_us_p50),
        latency_us_p99: median_u64(runs, |r| r.latency_us_p99),
        latency_us_p999: median_u64(runs, |r| r.latency_us_p999),
        latency_us_max: median_u64(runs, |r| r.latency_us_max),
        reconnects: median_u64(runs, |r| r.reconnects),
        resets: sum(runs, |r| r.resets),
        dropped: sum(runs, |r| r.dropped),
        reconnect_us_p50: median_u64(runs, |r| r.reconnect_us_p50),
        reconnect_us_p99: median_u64(runs, |r| r.reconnect_us_p99),
        server_cpu_percent: median_opt(runs, |r| r.server_cpu_percent, f64::total_cmp),
        server_rss_kib_start: median_opt(runs, |r| r.server_rss_kib_start, Ord::cmp),
        server_rss_kib_end: median_opt(runs, |r| r.server_rss_kib_end, Ord::cmp),
        server_rss_kib_per_connection: median_opt(
            runs,
            |r| r.server_rss_kib_per_connection,
            f64::total_cmp,
        ),
        loadgen_cpu_percent: median_f64(runs, |r| r.loadgen_cpu_percent),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p99: u64, cpu: Option<f64>, lost: u64, note: &str) -> Report {
        Report {
            scenario: "fanout".into(),
            latency_us_p50: p99 / 2,
            latency_us_p99: p99,
            server_cpu_percent: cpu,
            lost,
            deliveries: 1000,
            notes: vec!["1 channel x 1000 viewers".into(), note.into()],
            ..Report::default()
        }
    }

    #[test]
    fn each_figure_is_the_middle_run_and_failures_add_up() {
        let runs = [
            run(13_000, Some(9.9), 0, "run a"),
            run(11_000, Some(9.2), 2, "run b"),
            run(12_000, None, 1, "run c"),
        ];
        let m = medians(&runs).unwrap();
        assert_eq!(m.latency_us_p99, 12_000);
        assert_eq!(m.latency_us_p50, 6_000);
        // The median of the runs that measured it: the lower middle of two.
        assert_eq!(m.server_cpu_percent, Some(9.2));
        assert_eq!(m.lost, 3, "a median must not hide a failed run");
        assert_eq!(
            m.notes,
            [
                "1 channel x 1000 viewers",
                "run 1: run a",
                "run 2: run b",
                "run 3: run c",
                "median of 3 runs; p99 from 11000 to 13000 µs; failures summed over the runs",
            ]
        );
    }

    #[test]
    fn a_run_that_delivered_nothing_does_not_set_the_p99_range() {
        let mut broken = run(0, None, 0, "a viewer failed: connection reset");
        broken.deliveries = 0;
        let m = medians(&[run(9_000, None, 0, ""), broken, run(10_000, None, 0, "")]).unwrap();
        assert!(m
            .notes
            .contains(&"run 2: a viewer failed: connection reset".to_owned()));
        let summary = m.notes.last().unwrap();
        assert!(summary.contains("p99 from 9000 to 10000 µs"), "{summary}");
    }

    #[test]
    fn reports_of_different_scenarios_are_refused() {
        let mut other = run(1, None, 0, "");
        other.scenario = "rooms".into();
        let err = medians(&[run(1, None, 0, ""), other]).unwrap_err();
        assert!(err.to_string().contains("different scenarios"), "{err}");
        assert!(medians(&[]).is_err());
    }

    #[test]
    fn runs_without_deliveries_name_no_latency_range() {
        let idle = Report {
            scenario: "idle".into(),
            ..Report::default()
        };
        let m = medians(&[idle]).unwrap();
        assert_eq!(m.notes, ["median of 1 run; failures summed over the runs"]);
    }

    #[test]
    fn saved_reports_read_back() {
        let dir = std::env::temp_dir().join(format!("flack-load-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.jsonl");
        let _ = std::fs::remove_file(&path);
        save(&run(5, Some(1.5), 0, "a"), &path).unwrap();
        save(&run(7, None, 0, "b"), &path).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].latency_us_p99, 7);
        assert_eq!(back[0].server_cpu_percent, Some(1.5));
        std::fs::write(&path, "{\"scenario\": 1}\n").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.to_string().contains("line 1: not a report"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
