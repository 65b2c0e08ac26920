//! The `idle` scenario: many quiet connections, each joined and held past
//! the server's heartbeat, to measure memory per connection.

use crate::*;

/// What the `idle` scenario's connections saw.
#[derive(Default)]
struct IdleTally {
    joined: AtomicU64,
    /// Joined (and pinged, if required) and not closed.
    live: AtomicU64,
    pinged: AtomicU64,
    closed: AtomicU64,
}

pub async fn idle(
    cli: &Cli,
    connections: usize,
    channels: usize,
    hold: u64,
    require_ping: bool,
) -> Result<Report, BoxError> {
    let server = Server::new(cli.addr);
    let (owner, names) = owner_and_channels(&server, "idle", channels).await?;
    let targets = idle_targets(cli, server, owner).await?;
    let before = procstat::sample(cli.server_pid);
    let start = Instant::now();
    let sockets = connect_many(cli, &targets, connections).await?;
    let connect_secs = start.elapsed().as_secs_f64();
    // Each connection counts itself joined once it reads `joined`, pinged
    // once it reads the server's heartbeat, and closed if its stream ends:
    // "held" is then checked, not assumed.
    let tally = Arc::new(IdleTally::default());
    let mut held = Vec::with_capacity(connections);
    for (i, ws) in sockets.into_iter().enumerate() {
        let (mut sink, mut stream) = ws.split();
        sink.send(wire::join_frame(&names[i % names.len()], None))
            .await?;
        let tally = tally.clone();
        held.push(tokio::spawn(async move {
            hold_one(&mut stream, &tally, require_ping).await;
            drop(sink);
        }));
    }
    tokio::time::sleep(Duration::from_secs(hold)).await;
    let after = procstat::sample(cli.server_pid);
    let joined = tally.joined.load(Ordering::Relaxed) as usize;
    let closed = tally.closed.load(Ordering::Relaxed) as usize;
    let mut report = Report {
        scenario: "idle".into(),
        connections,
        connect_secs,
        dropped: connections.saturating_sub(tally.live.load(Ordering::Relaxed) as usize) as u64,
        ..Report::default()
    };
    procstat::fill(&mut report, &before, &after, Some(connections));
    report.notes.push(format!(
        "{connections} connections over {} channels, held {hold} s",
        names.len()
    ));
    report.notes.push(format!(
        "{joined} joined, {closed} closed, {} saw a heartbeat ping",
        tally.pinged.load(Ordering::Relaxed)
    ));
    if let Some(on) = viewers_named(cli) {
        report.notes.push(format!("connections on {on}"));
    }
    for task in held {
        task.abort();
    }
    Ok(report)
}

/// Where `idle` connects, and as whom: the server and the channels' owner,
/// or a user registered on each of `--viewers-addr`.
async fn idle_targets(
    cli: &Cli,
    server: Server,
    owner: Session,
) -> Result<Vec<(Server, Session)>, BoxError> {
    if cli.viewers_addr.is_empty() {
        return Ok(vec![(server, owner)]);
    }
    let mut targets = Vec::new();
    for (i, &addr) in cli.viewers_addr.iter().enumerate() {
        // Registered where it connects: a server answers a registration
        // only once it has applied it, so it already knows the channels
        // made before.
        let on = Server::new(addr);
        let session = on
            .register(&format!("lg-idle-{}-{i}", std::process::id()))
            .await?;
        targets.push((on, session));
    }
    Ok(targets)
}

/// Reads one idle connection until it closes (reading keeps answering the
/// server's pings), counting it joined, pinged, live and closed.
async fn hold_one(
    stream: &mut futures::stream::SplitStream<wire::Ws>,
    tally: &IdleTally,
    require_ping: bool,
) {
    let (mut joined, mut pinged, mut live) = (false, false, false);
    while let Some(Ok(frame)) = stream.next().await {
        match frame {
            Message::Text(t) if !joined && t.as_str().starts_with(r#"{"type":"joined""#) => {
                joined = true;
                tally.joined.fetch_add(1, Ordering::Relaxed);
            }
            Message::Ping(_) if !pinged => {
                pinged = true;
                tally.pinged.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if !live && joined && (pinged || !require_ping) {
            live = true;
            tally.live.fetch_add(1, Ordering::Relaxed);
        }
    }
    tally.closed.fetch_add(1, Ordering::Relaxed);
    if live {
        tally.live.fetch_sub(1, Ordering::Relaxed);
    }
}
