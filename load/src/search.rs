//! The `search` scenario: channels filled with varied messages, then
//! searches one after another (words, a phrase, filters, a miss), timed
//! from request to answer. The first search folds every message's text
//! (the server does it lazily); it is reported apart, then left out.

use crate::*;

/// Words the filler messages are made of (a chat's everyday vocabulary).
const WORDS: [&str; 48] = [
    "deploy", "release", "friday", "lunch", "meeting", "review", "bug", "fix", "café", "notes",
    "build", "test", "green", "red", "server", "client", "queue", "latency", "today", "tomorrow",
    "please", "thanks", "done", "later", "coffee", "design", "docs", "merge", "branch", "ticket",
    "customer", "report", "numbers", "chart", "slides", "plan", "budget", "hiring", "team", "sync",
    "standup", "retro", "incident", "alert", "pager", "backup", "restore", "schema",
];

/// What each timed search asks, in turn.
const QUERIES: [&str; 6] = [
    "deploy",
    "Café notes",
    "\"release friday\"",
    "incident from:@{owner}",
    "budget in:#{channel}",
    "nothinglikethis",
];

/// A message of 8–15 words picked by a small deterministic generator.
fn filler(seed: &mut u64) -> String {
    let mut next = || {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 33) as usize
    };
    let len = 8 + next() % 8;
    (0..len)
        .map(|_| WORDS[next() % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn search(
    cli: &Cli,
    channels: usize,
    per_channel: usize,
    searches: usize,
) -> Result<Report, BoxError> {
    let server = Server::new(cli.addr);
    let (owner, names) = owner_and_channels(&server, "search", channels).await?;
    fill(&server, &owner, &names, per_channel).await?;
    let owner_name = format!("lg-search-{}", std::process::id());
    let query = |i: usize| {
        QUERIES[i % QUERIES.len()]
            .replace("{owner}", &owner_name)
            .replace("{channel}", &names[i % names.len()])
    };
    let cold = Instant::now();
    server.search(&owner, "warm up").await?;
    let cold_ms = cold.elapsed().as_secs_f64() * 1000.0;
    let before = procstat::sample(cli.server_pid);
    let mut latency = probe::histogram();
    let mut each: Vec<_> = QUERIES.iter().map(|_| probe::histogram()).collect();
    let mut hits = 0;
    for i in 0..searches {
        let started = Instant::now();
        hits += server.search(&owner, &query(i)).await?;
        let took = (started.elapsed().as_micros() as u64).max(1);
        let _ = latency.record(took);
        let _ = each[i % QUERIES.len()].record(took);
    }
    let mut report = Report {
        scenario: "search".into(),
        connections: 1,
        sent: searches as u64,
        deliveries: hits as u64,
        ..Report::default()
    };
    fill_latency(&mut report, &latency);
    let after = procstat::sample(cli.server_pid);
    procstat::fill(&mut report, &before, &after, None);
    report.notes.push(format!(
        "{searches} searches over {} channels x {per_channel} messages, one at a time \
         (queries: {}); latency = request to answer over HTTP; deliveries = hits (<= 50 each); \
         the first search, which folds every message's text, took {cold_ms:.1} ms",
        names.len(),
        QUERIES.join(" | ")
    ));
    let per_query: Vec<String> = (QUERIES.iter().zip(&each))
        .map(|(q, h)| format!("{q}: p50 {:.1} / p99 {:.1} ms", ms(h, 0.5), ms(h, 0.99)))
        .collect();
    report
        .notes
        .push(format!("per query: {}", per_query.join("; ")));
    Ok(report)
}

fn ms(histogram: &hdrhistogram::Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// Posts `per_channel` messages to each channel, a window of sends at a
/// time (so neither side's buffers fill), and waits for every ack.
async fn fill(
    server: &Server,
    owner: &Session,
    names: &[String],
    per_channel: usize,
) -> Result<(), BoxError> {
    const WINDOW: usize = 500;
    let mut writer = server.connect(owner, None).await?;
    let mut seed = 42;
    let all: Vec<(String, usize)> = (0..per_channel)
        .flat_map(|n| names.iter().map(move |name| (name.clone(), n)))
        .collect();
    for batch in all.chunks(WINDOW) {
        for (name, n) in batch {
            let body = filler(&mut seed);
            writer
                .send(wire::send_frame(name, &format!("{name}-{n}"), &body))
                .await?;
        }
        let mut acks = 0;
        while acks < batch.len() {
            match writer.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().starts_with(r#"{"type":"ack""#) => {
                    acks += 1
                }
                Some(Ok(Message::Text(t))) if t.as_str().starts_with(r#"{"type":"error""#) => {
                    return Err(format!("a filler message was refused: {}", t.as_str()).into())
                }
                Some(Ok(_)) => {}
                _ => return Err("writer connection closed".into()),
            }
        }
    }
    Ok(())
}
