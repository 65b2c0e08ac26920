//! The traffic scenarios (`fanout`, `rooms`, `churn`): viewers join and
//! check every delivery while senders send at a fixed, open-loop rate.
//!
//! Invariant: a run counts what it sent per channel and what each viewer
//! received, so loss, duplicates and reordering are measured, never
//! assumed; the load is exactly `rate` × `duration`.

use crate::probe::{self, Checker, Counts, Latencies};
use crate::wire::{self, Server, Session};
use crate::{
    connect_many, fill_latency, owner_and_channels, procstat, source, viewers_named, BoxError, Cli,
    Report, Traffic,
};
use futures::{SinkExt, StreamExt};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// The scenarios with traffic (`fanout`, `rooms`, `churn`): viewers join
/// their channels, senders send at `rate` for `duration`, optionally while
/// viewers reconnect `reconnects` times a second; then every viewer is
/// drained and its deliveries checked.
pub async fn traffic(
    cli: &Cli,
    t: Traffic,
    name: &str,
    reconnects: f64,
) -> Result<Report, BoxError> {
    let server = Server::new(cli.addr);
    let (_, channels) = owner_and_channels(&server, name, t.channels).await?;
    let channels = Arc::new(channels);
    let epoch = Instant::now();
    let before_connect = procstat::sample(cli.server_pid);
    let connect_start = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let probes = Probes::default();
    let watching = Watching {
        channels: &channels,
        epoch,
        probes: &probes,
        stop: stopped,
        reconnects: reconnects > 0.0,
    };
    let viewers = connect_viewers(cli, &t, watching).await?;
    let connect_secs = connect_start.elapsed().as_secs_f64();

    let senders = connect_senders(cli, &server, &t).await?;
    // A moment ahead, so that starting the threads is not counted as
    // latency of their first messages.
    let send_start = Instant::now() + Duration::from_millis(50);
    // CPU is measured while messages flow, not while connecting: with many
    // viewers connected, each sender's sign-in is a presence notice to every
    // connection, which would count as the cost of the traffic.
    let sending = procstat::sample(cli.server_pid);
    let sent = Sent::new(channels.len());
    let threads = start_senders(senders, &t, &channels, &sent, send_start, epoch);
    let reconnects_made = reconnect_viewers(&viewers, reconnects, send_start, t.duration).await;
    for thread in threads {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    let send_secs = send_start.elapsed().as_secs_f64();

    // Drain: wait (bounded) until every viewer has what its channel got.
    probe::drain(|| {
        (viewers.iter()).all(|v| v.counts.delivered.load(Ordering::Relaxed) >= sent.to(v.channel))
    })
    .await;
    let end = procstat::sample(cli.server_pid);
    let _ = stop.send(true);

    let mut report = Report {
        scenario: name.into(),
        connections: viewers.len() + t.senders.max(1),
        connect_secs,
        send_errors: sent.errors.load(Ordering::Relaxed),
        reconnects: reconnects_made,
        sent: (0..channels.len()).map(|c| sent.to(c)).sum(),
        ..Report::default()
    };
    tally(&mut report, viewers, &sent).await?;
    report.deliveries_per_sec = report.deliveries as f64 / send_secs;
    probes.fill(&mut report);
    procstat::fill_cpu(&mut report, &sending, &end);
    procstat::fill_memory(&mut report, &before_connect, &end, None);
    describe(cli, &t, channels.len(), &mut report);
    Ok(report)
}

/// What every viewer records into.
#[derive(Default)]
struct Probes {
    latencies: Latencies,
    reconnect_us: Latencies,
}

impl Probes {
    fn fill(&self, report: &mut Report) {
        fill_latency(report, &self.latencies.merged());
        let reconnect = self.reconnect_us.merged();
        if !reconnect.is_empty() {
            report.reconnect_us_p50 = reconnect.value_at_quantile(0.5);
            report.reconnect_us_p99 = reconnect.value_at_quantile(0.99);
        }
    }
}

/// What viewers share: the channels, the clock, the probes, the stop.
struct Watching<'a> {
    channels: &'a Arc<Vec<String>>,
    epoch: Instant,
    probes: &'a Probes,
    stop: watch::Receiver<bool>,
    reconnects: bool,
}

/// One viewer's task, its channel (an index), what it counted, and the
/// signal that makes it reconnect.
struct Viewer {
    channel: usize,
    counts: Arc<Counts>,
    rejoin: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<Result<u64, BoxError>>,
}

/// Where viewers connect: `--viewers-addr`, or the server itself.
fn view_servers(cli: &Cli) -> Vec<Server> {
    if cli.viewers_addr.is_empty() {
        vec![Server::new(cli.addr)]
    } else {
        cli.viewers_addr.iter().copied().map(Server::new).collect()
    }
}

/// Connects `viewers` per channel, one user on every connection, spread
/// over the view servers, each joined to its channel and checking it.
async fn connect_viewers(
    cli: &Cli,
    t: &Traffic,
    watching: Watching<'_>,
) -> Result<Vec<Viewer>, BoxError> {
    let view_servers = view_servers(cli);
    // Registered where it views: a server answers a registration only once
    // it has applied it, so it already knows the channels made before.
    let viewer = (view_servers[0])
        .register(&format!("lg-view-{}", std::process::id()))
        .await?;
    let channels = watching.channels;
    let total = t.viewers * channels.len();
    let mut per_server = Vec::with_capacity(view_servers.len());
    for (k, view_server) in view_servers.iter().enumerate() {
        // Viewer i is on server i % n (a share of each channel on each).
        let share = (total + view_servers.len() - 1 - k) / view_servers.len();
        let target = [(view_server.clone(), viewer.clone())];
        per_server.push(connect_many(cli, &target, share).await?.into_iter());
    }
    let sockets: Vec<wire::Ws> = (0..total)
        .filter_map(|i| per_server[i % view_servers.len()].next())
        .collect();
    let mut viewers = Vec::with_capacity(total);
    for (i, ws) in sockets.into_iter().enumerate() {
        let channel = i % channels.len();
        let counts = Arc::new(Counts::default());
        let notify = Arc::new(tokio::sync::Notify::new());
        let rejoin = watching.reconnects.then(|| {
            let rejoin = Rejoin {
                server: view_servers[i % view_servers.len()].clone(),
                session: viewer.clone(),
                reconnect_us: watching.probes.reconnect_us.clone(),
                source: source(cli, i),
            };
            (notify.clone(), rejoin)
        });
        let checker = Checker::new(watching.epoch, watching.probes.latencies.clone(), i);
        let task = tokio::spawn(view(
            ws,
            channels[channel].clone(),
            checker,
            counts.clone(),
            watching.stop.clone(),
            rejoin,
        ));
        viewers.push(Viewer {
            channel,
            counts,
            rejoin: notify,
            task,
        });
    }
    Ok(viewers)
}

/// Signs in and connects every sender before any starts: otherwise the
/// first would be sending while the last still registers, and the run
/// would carry more traffic than `rate` × `duration`.
async fn connect_senders(
    cli: &Cli,
    server: &Server,
    t: &Traffic,
) -> Result<Vec<wire::Ws>, BoxError> {
    let run = std::process::id();
    let mut connected = Vec::with_capacity(t.senders.max(1));
    for s in 0..t.senders.max(1) {
        let session = server.register(&format!("lg-send-{run}-{s}")).await?;
        connected.push(server.connect(&session, source(cli, s)).await?);
    }
    Ok(connected)
}

/// What the senders sent, per channel, and the refusals they heard.
#[derive(Clone)]
struct Sent {
    per_channel: Arc<Vec<AtomicU64>>,
    errors: Arc<AtomicU64>,
}

impl Sent {
    fn new(channels: usize) -> Self {
        Self {
            per_channel: Arc::new((0..channels).map(|_| AtomicU64::new(0)).collect()),
            errors: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Messages sent to channel `c`.
    fn to(&self, c: usize) -> u64 {
        self.per_channel[c].load(Ordering::Relaxed)
    }
}

/// Starts every sender: open loop, each at rate / senders and interleaved
/// (see `Schedule::share`), stamped with the scheduled time of each
/// message, from `start`. Each runs on its own OS thread (see
/// `Schedule::wait_for`), so the generator adds no scheduling slop of its
/// own to the latency it reports.
fn start_senders(
    connected: Vec<wire::Ws>,
    t: &Traffic,
    channels: &Arc<Vec<String>>,
    sent: &Sent,
    start: Instant,
    epoch: Instant,
) -> Vec<std::thread::JoinHandle<()>> {
    let senders = connected.len();
    let per_sender = ((t.rate / senders as f64) * t.duration).round().max(1.0) as u64;
    let pad = "x".repeat(t.pad);
    let rate = t.rate;
    let mut threads = Vec::with_capacity(senders);
    for (s, ws) in connected.into_iter().enumerate() {
        let (mut sink, stream) = ws.split();
        tokio::spawn(count_refusals(stream, sent.errors.clone()));
        let (channels, sent, pad) = (channels.clone(), sent.clone(), pad.clone());
        threads.push(std::thread::spawn(move || {
            let schedule = probe::Schedule::share(start, rate, senders, s);
            // Its share of `rate` × `duration`, counted, not "until told to
            // stop" (a sender asleep at the deadline would send one more).
            for n in 1..=per_sender {
                // Senders take turns over every channel: sender s sends its
                // n-th message to channel s + (n-1)·senders, so with fewer
                // senders than channels none is left idle.
                let channel = (s + (n as usize - 1) * senders) % channels.len();
                let scheduled = schedule.wait_for(n);
                let nanos = scheduled.saturating_duration_since(epoch).as_nanos() as u64;
                let body = format!("{} {pad}", probe::stamp(s as u32, n, nanos));
                let frame = wire::send_frame(&channels[channel], &format!("{s}-{n}"), &body);
                if futures::executor::block_on(sink.send(frame)).is_err() {
                    break;
                }
                sent.per_channel[channel].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    threads
}

/// Counts the `error` frames a sender receives.
async fn count_refusals(
    mut stream: futures::stream::SplitStream<wire::Ws>,
    errors: Arc<AtomicU64>,
) {
    while let Some(Ok(frame)) = stream.next().await {
        if let Message::Text(text) = frame {
            if text.as_str().starts_with(r#"{"type":"error""#) {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Until the sending is over: round-robin over the viewers, `per_sec`
/// reconnects a second (none: just wait). How many were made.
async fn reconnect_viewers(viewers: &[Viewer], per_sec: f64, start: Instant, duration: f64) -> u64 {
    if per_sec <= 0.0 {
        tokio::time::sleep_until((start + Duration::from_secs_f64(duration)).into()).await;
        return 0;
    }
    let mut made = 0u64;
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    while start.elapsed().as_secs_f64() < duration {
        every.tick().await;
        viewers[made as usize % viewers.len()].rejoin.notify_one();
        made += 1;
    }
    made
}

/// Adds up what every viewer got against what its channel was sent.
async fn tally(report: &mut Report, viewers: Vec<Viewer>, sent: &Sent) -> Result<(), BoxError> {
    for viewer in viewers {
        match viewer.task.await? {
            Ok(resets) => report.resets += resets,
            Err(e) => report.notes.push(format!("a viewer failed: {e}")),
        }
        let counts = &viewer.counts;
        let expected = sent.to(viewer.channel);
        let delivered = counts.delivered.load(Ordering::Relaxed);
        report.expected_deliveries += expected;
        report.deliveries += delivered;
        report.lost += expected.saturating_sub(delivered);
        report.duplicates += counts.duplicates.load(Ordering::Relaxed);
        report.out_of_order += counts.out_of_order.load(Ordering::Relaxed);
    }
    Ok(())
}

/// The run's shape, in the report's notes.
fn describe(cli: &Cli, t: &Traffic, channels: usize, report: &mut Report) {
    if let Some(on) = viewers_named(cli) {
        (report.notes).push(format!("senders on {}, viewers on {on}", cli.addr));
    }
    report.notes.push(format!(
        "{} channels x {} viewers, {} senders at {:.0} msg/s for {:.1} s, {} B padding",
        channels,
        t.viewers,
        t.senders.max(1),
        t.rate,
        t.duration,
        t.pad
    ));
}

/// Everything a viewer needs to reconnect as itself, and where it records
/// the time from each reconnect to its `joined`.
#[derive(Clone)]
pub struct Rejoin {
    server: Server,
    session: Session,
    reconnect_us: Latencies,
    source: Option<IpAddr>,
}

/// Reads one viewer's channel until `stop`, checking every delivery. On
/// each `reconnect` signal it drops the connection, opens a new one and
/// resumes with `after` = the last `seq` it saw, as a browser tab does.
/// Returns how many resumes got a `reset`.
pub async fn view(
    mut ws: wire::Ws,
    channel: String,
    mut checker: Checker,
    counts: Arc<Counts>,
    mut stop: watch::Receiver<bool>,
    reconnect: Option<(Arc<tokio::sync::Notify>, Rejoin)>,
) -> Result<u64, BoxError> {
    let mut resets = 0;
    // One stream, not split: a split's halves share it through a lock that
    // cost 6 % of the generator's CPU, and joins are only sent between reads.
    ws.send(wire::join_frame(&channel, None)).await?;
    let mut rejoining: Option<Instant> = None;
    // Made once, not per frame: creating and dropping the stop wait on
    // every delivery showed in the generator's profile.
    let mut stopped = std::pin::pin!(stop.changed());
    loop {
        let signal = async {
            match &reconnect {
                Some((notify, _)) => notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stopped => break,
            _ = signal => {
                let Some((_, rejoin)) = &reconnect else { continue };
                let started = Instant::now();
                drop(ws);
                ws = rejoin.server.connect(&rejoin.session, rejoin.source).await?;
                ws.send(wire::join_frame(&channel, Some(checker.last_seq()))).await?;
                rejoining = Some(started);
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str();
                    if text.starts_with(r#"{"type":"joined""#) {
                        if let (Some(started), Some((_, rejoin))) = (rejoining.take(), &reconnect) {
                            rejoin.reconnect_us.record(checker.id(), started.elapsed());
                        }
                    } else if text.starts_with(r#"{"type":"reset""#) {
                        resets += 1;
                    }
                    checker.record(text, &counts);
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    Ok(resets)
}
