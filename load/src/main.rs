//! `flack-load`: a load generator for Flack that speaks only the public
//! wire contract. It registers users, creates channels, opens WebSockets,
//! sends at a fixed (open-loop) rate, and checks every delivery: latency
//! (HDR histogram), loss, duplicates and reordering, which must all be 0.
//! With `--server-pid` it reports the server's CPU and memory, and always
//! its own CPU, so a saturated generator is never mistaken for a slow
//! server. Exits non-zero when any delivery check fails.
//!
//! Scenarios: `fanout` (one channel, many viewers), `rooms` (many channels),
//! `churn` (fan-out while viewers reconnect and resume), `idle` (many quiet
//! connections), `history` (many joins of full histories), and `floor`
//! (fan-out or many rooms with no server: what this machine's kernel
//! costs, the lowest latency any server could reach). `--report-to`
//! saves each run's report and `medians` reads them back (module
//! `summary`). See BENCHMARKS.md for the commands and figures.
//!
//! The server under test must allow the load: run it with
//! `--message-rate 0 --frame-rate 0 --register-rate 0 --channel-rate 0
//! --max-connections-per-ip 1000000 --max-http-connections-per-ip 1000000`.

mod floor;
mod history;
mod idle;
mod probe;
mod procstat;
mod report;
mod search;
mod summary;
mod traffic;
mod wire;

use clap::{Args, Parser, Subcommand};
use futures::{SinkExt, StreamExt};
use history::history;
use idle::idle;
use report::{fill_latency, print_table, Report};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use traffic::traffic;
use wire::{Server, Session};

#[derive(Parser)]
#[command(name = "flack-load", about = "Load generator for Flack")]
struct Cli {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The server's process id, to report its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Connect the viewers of `fanout`, `rooms` and `churn`, and the
    /// connections of `idle`, to these other servers (sharing the chat
    /// through Redis; comma-separated, spread round-robin) while senders
    /// stay on --addr: every delivery then crosses servers.
    #[arg(long, value_delimiter = ',')]
    viewers_addr: Vec<SocketAddr>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also append the report to this file, as one line of JSON, for
    /// `flack-load medians`.
    #[arg(long)]
    report_to: Option<PathBuf>,
    /// Open connections from this many loopback source addresses
    /// (127.0.0.1, .2, ...) to get past one address's ephemeral ports.
    #[arg(long, default_value_t = 1)]
    sources: u8,
    /// Connections opened at once while connecting.
    #[arg(long, default_value_t = 64)]
    connect_parallelism: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// One channel, N viewers, M senders, R messages/s in total.
    Fanout(Traffic),
    /// Many channels, V viewers each, senders spread across them.
    Rooms(Traffic),
    /// Fan-out while viewers keep disconnecting and reconnecting: each
    /// reconnect resumes from the last `seq` it saw and must miss nothing.
    Churn {
        #[command(flatten)]
        traffic: Traffic,
        /// Viewer reconnects per second, spread round-robin over the viewers.
        #[arg(long, default_value_t = 100.0)]
        reconnects: f64,
    },
    /// C idle connections, each joined to a channel; reports memory per
    /// connection, and fails if any is not held to the end.
    Idle {
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        channels: usize,
        /// Seconds to hold the connections (server heartbeats keep running).
        #[arg(long, default_value_t = 5)]
        hold: u64,
        /// Count a connection as held only once it has seen a heartbeat
        /// ping (hold longer than the server's `--ping-interval-secs`).
        #[arg(long)]
        require_ping: bool,
    },
    /// No server: relay threads (one per core by default) write each
    /// message to its channel's loopback connections, read by ordinary
    /// viewers. The machine's floor for `fanout`'s and `rooms`' latency.
    Floor {
        /// Connections, in all channels together.
        #[arg(long, default_value_t = 1000)]
        viewers: usize,
        /// Channels the connections are spread over; messages take turns
        /// over them (1: fan-out; many: the many-rooms shape).
        #[arg(long, default_value_t = 1)]
        channels: usize,
        /// Messages per second, in all channels together.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Relay threads (a server's worker threads).
        #[arg(long, default_value_t = std::thread::available_parallelism().map_or(2, |n| n.get()))]
        threads: usize,
    },
    /// N clients join channels holding full 100-message histories at once.
    History {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        channels: usize,
    },
    /// Searches over many channels full of messages, one at a time.
    Search {
        #[arg(long, default_value_t = 1000)]
        channels: usize,
        /// Messages per channel (the server keeps 100).
        #[arg(long, default_value_t = 100)]
        messages: usize,
        /// Timed searches.
        #[arg(long, default_value_t = 600)]
        searches: usize,
    },
    /// Not a load: the medians of the runs saved in FILE by `--report-to`
    /// (failures summed, so any failed run fails the medians too).
    Medians { file: PathBuf },
}

#[derive(Args, Clone, Serialize)]
struct Traffic {
    /// Channels (fanout uses 1).
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Viewers per channel.
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// Sending users, spread across the channels.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Bytes of padding in each message body.
    #[arg(long, default_value_t = 0)]
    pad: usize,
}

fn source(cli: &Cli, i: usize) -> Option<IpAddr> {
    (cli.sources > 1).then(|| {
        IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % cli.sources as usize) as u8,
        ))
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens `count` connections, `connect_parallelism` at a time, spread
/// round-robin over `targets` (a server, and the session to connect as).
async fn connect_many(
    cli: &Cli,
    targets: &[(Server, Session)],
    count: usize,
) -> Result<Vec<wire::Ws>, BoxError> {
    let mut out = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let batch: Vec<_> = (next..(next + cli.connect_parallelism).min(count))
            .map(|i| {
                let (server, session) = targets[i % targets.len()].clone();
                let src = source(cli, i);
                tokio::spawn(async move { server.connect(&session, src).await })
            })
            .collect();
        next += batch.len();
        for task in batch {
            out.push(task.await??);
        }
    }
    Ok(out)
}

/// `--viewers-addr` as a report names it ("A and B"), if given.
fn viewers_named(cli: &Cli) -> Option<String> {
    let on: Vec<String> = cli.viewers_addr.iter().map(ToString::to_string).collect();
    (!on.is_empty()).then(|| on.join(" and "))
}

/// Registers `lg-<kind>-<pid>` and creates `count` (at least one)
/// channels named after it, unique to this run.
async fn owner_and_channels(
    server: &Server,
    kind: &str,
    count: usize,
) -> Result<(Session, Vec<String>), BoxError> {
    let prefix = format!("lg-{kind}-{}", std::process::id());
    let owner = server.register(&prefix).await?;
    let names: Vec<String> = (0..count.max(1)).map(|c| format!("{prefix}-{c}")).collect();
    for name in &names {
        server.create_channel(&owner, name).await?;
    }
    Ok((owner, names))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.scenario, Scenario::Medians { .. }) && cli.report_to.is_some() {
        eprintln!("flack-load: --report-to saves a run's report; `medians` is not a run");
        return ExitCode::from(2);
    }
    let report = match run(&cli).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("flack-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("flack-load: {e}"),
        }
    } else {
        print_table(&report);
    }
    if let Some(path) = &cli.report_to {
        if let Err(e) = summary::save(&report, path) {
            eprintln!(
                "flack-load: cannot save the report to {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let failures = report.lost
        + report.duplicates
        + report.out_of_order
        + report.send_errors
        + report.resets
        + report.dropped;
    if failures > 0 {
        eprintln!(
            "flack-load: delivery check FAILED (lost, duplicated, reordered or refused messages, \
             or dropped connections)"
        );
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}

/// Runs the scenario the command line names.
async fn run(cli: &Cli) -> Result<Report, BoxError> {
    match &cli.scenario {
        Scenario::Fanout(t) => {
            let mut t = t.clone();
            t.channels = 1;
            traffic(cli, t, "fanout", 0.0).await
        }
        Scenario::Rooms(t) => traffic(cli, t.clone(), "rooms", 0.0).await,
        Scenario::Churn {
            traffic: t,
            reconnects,
        } => {
            let mut t = t.clone();
            t.channels = 1;
            traffic(cli, t, "churn", *reconnects).await
        }
        Scenario::Idle {
            connections,
            channels,
            hold,
            require_ping,
        } => idle(cli, *connections, *channels, *hold, *require_ping).await,
        Scenario::History { clients, channels } => history(cli, *clients, *channels).await,
        Scenario::Search {
            channels,
            messages,
            searches,
        } => search::search(cli, *channels, *messages, *searches).await,
        Scenario::Medians { file } => summary::load(file).and_then(|runs| summary::medians(&runs)),
        Scenario::Floor {
            viewers,
            channels,
            rate,
            duration,
            threads,
        } => {
            floor::floor(floor::Load {
                viewers: *viewers,
                channels: *channels,
                rate: *rate,
                duration: *duration,
                threads: *threads,
            })
            .await
        }
    }
}
