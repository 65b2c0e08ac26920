//! The machine's floor: the fan-out scenario with no chat server at all.
//! Relay threads stand in for the server and write every message, as the
//! same WebSocket text frame a Flack `message` frame would be, to each of N
//! loopback TCP connections, read and checked by the generator's ordinary
//! viewers. The latency this measures is what the kernel and the viewers
//! cost before any server logic runs: the lowest any server could reach
//! on this machine, so a server figure can be read as "floor + server".
//!
//! Invariant: the relay is the least a server must do (one `write` per
//! delivery, a thread per core, frames built once per message); it never
//! reads, batches across messages or skips a connection.

use crate::probe::{self, Counts};
use crate::procstat;
use crate::{fill_latency, view, BoxError, Report};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
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

pub async fn floor(
    viewers: usize,
    rate: f64,
    duration: f64,
    threads: usize,
) -> Result<Report, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let accepting = tokio::task::spawn_blocking(move || {
        (0..viewers)
            .map(|_| {
                let (stream, _) = listener.accept()?;
                stream.set_nodelay(true)?;
                Ok(stream)
            })
            .collect::<std::io::Result<Vec<TcpStream>>>()
    });
    let connect_start = Instant::now();
    let mut sockets = Vec::with_capacity(viewers);
    for _ in 0..viewers {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        sockets.push(WebSocketStream::from_raw_socket(stream, Role::Client, None).await);
    }
    let mut relayed = accepting.await??;
    // Like a server's `welcome`: no connection's first bytes are a timed
    // message (a fresh connection's first delivery costs more).
    let welcome = text_frame(r#"{"type":"welcome"}"#);
    for stream in &mut relayed {
        stream.write_all(&welcome)?;
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();

    let epoch = Instant::now();
    let cpu_start = procstat::sample(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let counts = Arc::new(Counts::default());
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|ws| {
            tokio::spawn(view(
                ws,
                "floor".into(),
                epoch,
                counts.clone(),
                stop_rx.clone(),
                None,
            ))
        })
        .collect();

    // The relay: each thread writes every message to its share of the
    // connections, on the same schedule (open loop, stamped when due).
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let messages = (rate * duration).round().max(1.0) as u64;
    let start = Instant::now() + Duration::from_millis(200);
    let share = viewers.div_ceil(threads.max(1)).max(1);
    let mut relays = Vec::new();
    let mut streams = relayed.into_iter();
    loop {
        let mut mine: Vec<TcpStream> = streams.by_ref().take(share).collect();
        if mine.is_empty() {
            break;
        }
        relays.push(std::thread::spawn(move || -> std::io::Result<()> {
            for seq in 1..=messages {
                let scheduled = start + period.mul_f64((seq - 1) as f64);
                if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let nanos = scheduled.saturating_duration_since(epoch).as_nanos() as u64;
                let frame = message_frame(seq, nanos);
                for stream in &mut mine {
                    stream.write_all(&frame)?;
                }
            }
            Ok(())
        }));
    }
    for relay in relays {
        tokio::task::spawn_blocking(move || relay.join())
            .await?
            .map_err(|_| "a relay thread panicked")??;
    }
    let send_secs = start.elapsed().as_secs_f64();

    let expected = messages * viewers as u64;
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < drain_deadline && counts.delivered.load(Ordering::Relaxed) < expected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    let mut latency = probe::histogram();
    for reader in readers {
        if let Ok(end) = reader.await? {
            let _ = latency.add(&end.latency_us);
        }
    }
    let delivered = counts.delivered.load(Ordering::Relaxed);
    let mut report = Report {
        scenario: "floor".into(),
        connections: viewers,
        connect_secs,
        sent: messages,
        expected_deliveries: expected,
        deliveries: delivered,
        deliveries_per_sec: delivered as f64 / send_secs,
        lost: expected.saturating_sub(delivered),
        duplicates: counts.duplicates.load(Ordering::Relaxed),
        out_of_order: counts.out_of_order.load(Ordering::Relaxed),
        ..Report::default()
    };
    fill_latency(&mut report, &latency);
    procstat::fill(&mut report, &cpu_start, &procstat::sample(None), None);
    report.notes.push(format!(
        "no server: {} relay threads write each of {messages} messages ({rate:.0}/s) to {viewers} loopback connections",
        threads.max(1)
    ));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_frames_carry_a_readable_stamp() {
        let frame = message_frame(7, 123_456);
        assert_eq!(frame[0], 0x81);
        let (len, payload) = match frame[1] {
            126 => (
                u16::from_be_bytes([frame[2], frame[3]]) as usize,
                &frame[4..],
            ),
            n => (n as usize, &frame[2..]),
        };
        assert_eq!(len, payload.len());
        let text = std::str::from_utf8(payload).unwrap();
        assert_eq!(probe::read_stamp(text), Some((7, 0, 7, 123_456)));
    }
}
