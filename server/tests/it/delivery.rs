//! Delivery under failure: cut connections resume exactly, a reader that
//! stops reading hurts nobody else, retries are stored once.

use crate::common::{signal, spawn_server, wait_for_exit, Client, Ending, TestServer};
use futures::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Sends `count` messages on `ws` without waiting, then collects every ack.
async fn send_burst(
    ws: &mut crate::common::Ws,
    channel: &str,
    prefix: &str,
    count: usize,
    body: &str,
) {
    for i in 0..count {
        let frame = json!({"type": "send", "channel": channel, "client_id": format!("{prefix}{i}"), "body": format!("{body} {i}")});
        ws.stream
            .feed(Message::text(frame.to_string()))
            .await
            .unwrap();
    }
    ws.stream.flush().await.unwrap();
    let mut acks = 0;
    while acks < count {
        if ws.next_json().await["type"] == "ack" {
            acks += 1;
        }
    }
}

fn seqs(frames: &[Value]) -> Vec<u64> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_viewer_cut_off_during_60_messages_resumes_with_each_exactly_once() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut viewer = bob.connect().await;
    let (_, joined) = viewer.join("general", None).await;
    let mut last = joined["head"].as_u64().unwrap();
    let mut sender = alice.connect().await;
    send_burst(&mut sender, "general", "a", 5, "before").await;
    for _ in 0..5 {
        last = viewer.until("message").await["seq"].as_u64().unwrap();
    }
    drop(viewer); // the link is cut

    send_burst(&mut sender, "general", "b", 60, "while away").await;
    let mut viewer = bob.connect().await;
    let (backlog, joined) = viewer.join("general", Some(last)).await;
    assert!(
        backlog.iter().all(|f| f["type"] == "message"),
        "no reset needed"
    );
    assert_eq!(seqs(&backlog), (6..=65).collect::<Vec<u64>>());
    assert_eq!(joined["head"], 65);
    server.stop().await;
}

#[tokio::test]
async fn a_viewer_cut_off_during_1000_messages_resumes_to_exactly_the_servers_view() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut viewer = bob.connect().await;
    viewer.join("general", None).await;
    let mut sender = alice.connect().await;
    send_burst(&mut sender, "general", "a", 3, "before").await;
    let mut last = 0;
    for _ in 0..3 {
        last = viewer.until("message").await["seq"].as_u64().unwrap();
    }
    drop(viewer);

    send_burst(&mut sender, "general", "b", 1000, "while away").await;
    let mut viewer = bob.connect().await;
    let (backlog, joined) = viewer.join("general", Some(last)).await;
    assert_eq!(
        backlog[0]["type"], "reset",
        "the gap is no longer held: replace the view"
    );
    let history = alice.history("general").await;
    let expected: Vec<u64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs(&backlog), expected);
    assert_eq!(expected, (904..=1003).collect::<Vec<u64>>());
    assert_eq!(joined["head"], 1003);

    // And live again, exactly after the backlog.
    sender.send_message("general", "after", "back live").await;
    assert_eq!(viewer.until("message").await["seq"], 1004);
    server.stop().await;
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_without_slowing_or_bloating_anyone() {
    const MESSAGES: usize = 10_000;
    let (mut child, addr) = spawn_server(&["--write-timeout-secs", "1"]);
    let mut alice = Client::new(addr);
    alice.register("alice").await;
    let mut bob = Client::new(addr);
    bob.register("bob").await;
    let mut sloth = Client::new(addr);
    sloth.register("sloth").await;
    alice.create_channel("general").await;

    let mut stalled = sloth.connect().await;
    let (_, joined) = stalled.join("general", None).await;
    assert_eq!(joined["head"], 0);
    // From here on `stalled` is never read until the end.

    let mut viewer = bob.connect().await;
    viewer.join("general", None).await;
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(MESSAGES);
        while seen.len() < MESSAGES {
            let frame = viewer.next_json().await;
            if frame["type"] == "message" {
                seen.push(frame["seq"].as_u64().unwrap());
            }
        }
        seen
    });

    let before = rss_kib(child.id());
    let body = "x".repeat(3000);
    let mut sender = alice.connect().await;
    send_burst(&mut sender, "general", "m", MESSAGES, &body).await;
    let seen = reader.await.unwrap();
    assert_eq!(
        seen,
        (1..=MESSAGES as u64).collect::<Vec<_>>(),
        "the attentive viewer got everything, in order"
    );
    let after = rss_kib(child.id());
    // 10,000 × 3 KB = 30 MB went through; the stalled reader holds none of it.
    assert!(
        after.saturating_sub(before) < 24 * 1024,
        "server memory grew by {} KiB",
        after.saturating_sub(before)
    );

    // The stalled client was disconnected with a reason...
    // A close frame with 1008, unless the close frame is stuck behind the
    // partly written frame that timed out; then the drop itself shows it.
    match stalled.ending().await {
        Ending::Closed(Some((code, reason))) => assert_eq!(code, 1008, "{reason}"),
        Ending::Reset => {}
        other => panic!("the stalled reader was not cut off: {other:?}"),
    }
    // ...and resumes to the correct last 100.
    let mut again = sloth.connect().await;
    let (backlog, _) = again.join("general", Some(0)).await;
    let got = seqs(&backlog);
    assert_eq!(
        got,
        ((MESSAGES as u64 - 99)..=MESSAGES as u64).collect::<Vec<_>>()
    );

    signal(&child, "TERM");
    let _ = tokio::task::spawn_blocking(move || wait_for_exit(&mut child, Duration::from_secs(5)))
        .await;
}

#[tokio::test]
async fn a_client_that_answers_no_heartbeat_is_closed_and_others_stay() {
    let server = TestServer::start_with(|c| {
        c.ping_interval_secs = 1;
        c.idle_timeout_secs = 2;
    })
    .await;
    let alice = server.user("alice").await;
    // This socket is not polled, so the server's pings go unanswered.
    let mut silent = alice.connect().await;
    let mut lively = alice.connect().await;
    let started = std::time::Instant::now();
    // The lively client keeps talking; its connection outlives the silent one.
    while started.elapsed() < Duration::from_secs(4) {
        lively.send_json(json!({"type": "ping"})).await;
        assert_eq!(lively.until("pong").await["type"], "pong");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let Ending::Closed(Some((code, reason))) = silent.ending().await else {
        panic!("closed by the server with a reason");
    };
    assert_eq!(code, 1008);
    assert!(reason.contains("heartbeat"), "{reason}");
    server.stop().await;
}
