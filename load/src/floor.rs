//! The machine's floor: the fan-out and many-rooms scenarios with no chat
//! server at all. Relay threads stand in for the server and write each
//! message, as the same WebSocket text frame a Flack `message` frame would
//! be, to every loopback TCP connection of its channel (one channel, or
//! `channels` taking turns as rooms' senders do), read and checked by the
//! generator's ordinary viewers. The latency this measures is what the
//! kernel and the viewers cost before any server logic runs: the lowest
//! any server could reach on this machine, so a server figure can be read
//! as "floor + server".
//!
//! Invariant: the relay is the least a server must do (one `write` per
//! delivery, a thread per core, each frame built once per thread); it
//! never reads, batches across messages or skips a connection, and its
//! viewers are configured like every other scenario's.

use crate::probe::{self, Checker, Counts, Latencies};
use crate::traffic::view;
use crate::{fill_latency, BoxError, Report};
use crate::{procstat, wire};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

/// A server-to-client (unmasked) WebSocket text frame holding `payload`.
fn text_frame(payload: &str) -> Vec<u8> {
    let len = payload.len();
    let mut frame = Vec::with_capacity(len + 10);
    frame.push(0x81); // FIN + text
    match len {
        0..=125 => frame.push(len as u8),
        126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload.as_bytes());
    frame
}

/// The shape of a Flack `message` frame, with the generator's stamp.
fn message_frame(seq: u64, nanos: u64) -> Vec<u8> {
    let body = probe::stamp(0, seq, nanos);
    text_frame(&format!(
        r#"{{"type":"message","channel":"floor","seq":{seq},"author":"lg-send","body":"{body}","sent_at":"2026-11-26T00:00:00.000Z","client_id":"0-{seq}"}}"#
    ))
}

/// What the floor relays: `viewers` connections in total (each costs this
/// process two descriptors, one per end), connection `i` in channel
/// `i % channels`; `rate` messages/s in total for `duration` s, message `n`
/// (from 1) to channel `(n - 1) % channels`; written by `threads` relay
/// threads.
pub struct Load {
    pub viewers: usize,
    pub channels: usize,
    pub rate: f64,
    pub duration: f64,
    pub threads: usize,
}

impl Load {
    fn channel_of_message(&self, n: u64) -> usize {
        ((n - 1) % self.channels as u64) as usize
    }

    /// How many of `messages` go to `channel`.
    fn messages_to(&self, channel: usize, messages: u64) -> u64 {
        let channels = self.channels as u64;
        messages / channels + u64::from((channel as u64) < messages % channels)
    }
}

/// Runs the floor scenario.
pub async fn floor(load: Load) -> Result<Report, BoxError> {
    let channels = load.channels.clamp(1, load.viewers.max(1));
    let load = Arc::new(Load { channels, ..load });
    let connect_start = Instant::now();
    let (sockets, relayed) = connect_pairs(load.viewers).await?;
    let connect_secs = connect_start.elapsed().as_secs_f64();

    let epoch = Instant::now();
    let cpu_start = procstat::sample(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let counts = Arc::new(Counts::default());
    let latencies = Latencies::new();
    let readers: Vec<_> = (sockets.into_iter().enumerate())
        .map(|(i, ws)| {
            let checker = Checker::new(epoch, latencies.clone(), i);
            let (counts, stop) = (counts.clone(), stop_rx.clone());
            tokio::spawn(view(ws, "floor".into(), checker, counts, stop, None))
        })
        .collect();

    let messages = (load.rate * load.duration).round().max(1.0) as u64;
    let start = Instant::now() + Duration::from_millis(200);
    let schedule = probe::Schedule::new(start, load.rate);
    let threads = load.threads.clamp(1, load.viewers.max(1));
    let relays: Vec<_> = (shard(relayed, channels, threads).into_iter())
        .map(|mine| {
            let load = load.clone();
            std::thread::spawn(move || relay(mine, &load, messages, &schedule, epoch))
        })
        .collect();
    // Measured to the same end point as the other scenarios: the end of
    // the sending period, not the last write.
    tokio::time::sleep_until((start + Duration::from_secs_f64(load.duration)).into()).await;
    for relay in relays {
        tokio::task::spawn_blocking(move || relay.join())
            .await?
            .map_err(|_| "a relay thread panicked")??;
    }
    let send_secs = start.elapsed().as_secs_f64();

    let expected: u64 = (0..load.viewers)
        .map(|i| load.messages_to(i % channels, messages))
        .sum();
    probe::drain(|| counts.delivered.load(Ordering::Relaxed) >= expected).await;
    let _ = stop_tx.send(true);
    let mut report = Report {
        scenario: "floor".into(),
        connections: load.viewers,
        connect_secs,
        sent: messages,
        expected_deliveries: expected,
        ..Report::default()
    };
    for reader in readers {
        if let Err(e) = reader.await? {
            report.notes.push(format!("a viewer failed: {e}"));
        }
    }
    count(&mut report, &counts, send_secs);
    fill_latency(&mut report, &latencies.merged());
    procstat::fill(&mut report, &cpu_start, &procstat::sample(None), None);
    report.notes.push(format!(
        "no server: {threads} relay threads write each of {messages} messages ({:.0}/s) to its channel's share of {} loopback connections in {channels} channel(s)",
        load.rate, load.viewers
    ));
    Ok(report)
}

/// `viewers` loopback connections: the viewers' WebSocket ends, and the
/// relay's plain blocking ends (it writes from plain threads).
async fn connect_pairs(viewers: usize) -> Result<(Vec<wire::Ws>, Vec<TcpStream>), BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut sockets = Vec::with_capacity(viewers);
    let mut relayed = Vec::with_capacity(viewers);
    for _ in 0..viewers {
        let (connected, accepted) =
            tokio::try_join!(tokio::net::TcpStream::connect(addr), listener.accept())?;
        connected.set_nodelay(true)?;
        let accepted = accepted.0.into_std()?;
        accepted.set_nonblocking(false)?;
        accepted.set_nodelay(true)?;
        relayed.push(accepted);
        // The same client settings as every other viewer (wire.rs).
        let config = Some(wire::ws_config());
        sockets.push(WebSocketStream::from_raw_socket(connected, Role::Client, config).await);
    }
    Ok((sockets, relayed))
}

/// Deals the relay's connections out to `threads`, per channel. With at
/// least as many channels as threads, the channels are sharded: each sits
/// wholly on one thread, so a message wakes one thread (the least a server
/// must do). With fewer (fan-out), each channel's connections are dealt
/// out over the threads.
fn shard(relayed: Vec<TcpStream>, channels: usize, threads: usize) -> Vec<Vec<Vec<TcpStream>>> {
    let mut shares: Vec<Vec<Vec<TcpStream>>> = (0..threads)
        .map(|_| (0..channels).map(|_| Vec::new()).collect())
        .collect();
    for (i, stream) in relayed.into_iter().enumerate() {
        let channel = i % channels;
        let thread = if channels >= threads {
            channel % threads
        } else {
            (i / channels) % threads
        };
        shares[thread][channel].push(stream);
    }
    shares
}

/// One relay thread: writes every message to its share of the message's
/// channel, on the same schedule (open loop, stamped when due).
fn relay(
    mut mine: Vec<Vec<TcpStream>>,
    load: &Load,
    messages: u64,
    schedule: &probe::Schedule,
    epoch: Instant,
) -> std::io::Result<()> {
    // Like a server's `welcome`: no connection's first bytes are a timed
    // message (a fresh connection's first delivery costs more).
    let welcome = text_frame(r#"{"type":"welcome"}"#);
    for stream in mine.iter_mut().flatten() {
        stream.write_all(&welcome)?;
    }
    for seq in 1..=messages {
        let viewing = &mut mine[load.channel_of_message(seq)];
        if viewing.is_empty() {
            continue;
        }
        let scheduled = schedule.wait_for(seq);
        let nanos = scheduled.saturating_duration_since(epoch).as_nanos() as u64;
        let frame = message_frame(seq, nanos);
        for stream in viewing {
            stream.write_all(&frame)?;
        }
    }
    Ok(())
}

/// What the viewers counted, into the report.
fn count(report: &mut Report, counts: &Counts, send_secs: f64) {
    let delivered = counts.delivered.load(Ordering::Relaxed);
    report.deliveries = delivered;
    report.deliveries_per_sec = delivered as f64 / send_secs;
    report.lost = report.expected_deliveries.saturating_sub(delivered);
    report.duplicates = counts.duplicates.load(Ordering::Relaxed);
    report.out_of_order = counts.out_of_order.load(Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (payload length, payload) of a server-to-client frame.
    fn unframe(frame: &[u8]) -> (usize, &[u8]) {
        assert_eq!(frame[0], 0x81, "FIN + text, unmasked");
        match frame[1] {
            126 => (
                u16::from_be_bytes([frame[2], frame[3]]) as usize,
                &frame[4..],
            ),
            127 => {
                let mut len = [0; 8];
                len.copy_from_slice(&frame[2..10]);
                (u64::from_be_bytes(len) as usize, &frame[10..])
            }
            n => (n as usize, &frame[2..]),
        }
    }

    #[test]
    fn relay_frames_carry_a_readable_stamp() {
        let frame = message_frame(7, 123_456);
        let (len, payload) = unframe(&frame);
        assert_eq!(len, payload.len());
        let text = std::str::from_utf8(payload).unwrap();
        assert_eq!(probe::read_stamp(text), Some((7, 0, 7, 123_456)));
    }

    #[test]
    fn messages_take_turns_over_the_channels() {
        let load = Load {
            viewers: 30,
            channels: 3,
            rate: 1.0,
            duration: 1.0,
            threads: 2,
        };
        let sent: Vec<usize> = (1..=7).map(|n| load.channel_of_message(n)).collect();
        assert_eq!(sent, [0, 1, 2, 0, 1, 2, 0]);
        for channel in 0..3 {
            let counted = sent.iter().filter(|&&c| c == channel).count() as u64;
            assert_eq!(load.messages_to(channel, 7), counted, "channel {channel}");
        }
    }

    #[test]
    fn frame_lengths_use_the_right_encoding_at_each_boundary() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let frame = text_frame(&"x".repeat(len));
            assert_eq!(frame.len(), header + len, "length {len}");
            assert_eq!(unframe(&frame), (len, "x".repeat(len).as_bytes()));
        }
    }
}
