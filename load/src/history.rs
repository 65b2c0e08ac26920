//! The `history` scenario: many clients joining full channels at once.

use crate::*;

pub async fn history(cli: &Cli, clients: usize, channels: usize) -> Result<Report, BoxError> {
    let server = Server::new(cli.addr);
    let (owner, names) = owner_and_channels(&server, "hist", channels).await?;
    let mut writer = server.connect(&owner, None).await?;
    for name in &names {
        for n in 0..100 {
            writer
                .send(wire::send_frame(
                    name,
                    &format!("{name}-{n}"),
                    &"h".repeat(200),
                ))
                .await?;
        }
    }
    let mut acks = 0;
    while acks < 100 * names.len() {
        match writer.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().starts_with(r#"{"type":"ack""#) => acks += 1,
            Some(Ok(_)) => {}
            _ => return Err("writer connection closed".into()),
        }
    }
    let before = procstat::sample(cli.server_pid);
    let start = Instant::now();
    let sockets = connect_many(cli, &[(server, owner)], clients).await?;
    let connect_secs = start.elapsed().as_secs_f64();
    let join_start = Instant::now();
    let mut joins = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let name = names[i % names.len()].clone();
        joins.push(tokio::spawn(async move {
            let started = Instant::now();
            let (mut sink, mut stream) = ws.split();
            sink.send(wire::join_frame(&name, None)).await.ok()?;
            let mut messages = 0u64;
            while let Some(Ok(frame)) = stream.next().await {
                if let Message::Text(text) = frame {
                    let text = text.as_str();
                    if text.starts_with(r#"{"type":"message""#) {
                        messages += 1;
                    } else if text.starts_with(r#"{"type":"joined""#) {
                        return Some((started.elapsed(), messages));
                    }
                }
            }
            None
        }));
    }
    let mut latency = probe::histogram();
    let mut report = Report {
        scenario: "history".into(),
        connections: clients,
        connect_secs,
        ..Report::default()
    };
    for join in joins {
        match join.await? {
            Some((took, messages)) => {
                let _ = latency.record((took.as_micros() as u64).max(1));
                report.deliveries += messages;
                report.expected_deliveries += 100;
            }
            None => report.lost += 100,
        }
    }
    report.lost += report.expected_deliveries.saturating_sub(report.deliveries);
    report.deliveries_per_sec = report.deliveries as f64 / join_start.elapsed().as_secs_f64();
    fill_latency(&mut report, &latency);
    let after = procstat::sample(cli.server_pid);
    procstat::fill(&mut report, &before, &after, None);
    report.notes.push(format!(
        "{clients} joins of {} channels with 100 messages of 200 B; latency = join to joined",
        names.len()
    ));
    Ok(report)
}
