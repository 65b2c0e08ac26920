//! `--data-dir`: what an ack promises survives `kill -9` and SIGTERM,
//! seqs continue without reuse, sessions and idempotency survive restarts.

use crate::common::{signal, spawn_server, wait_for_exit, Client};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const SENDERS: usize = 5;

/// One sender's channel, its cookie and every message the server acked.
struct Sender {
    channel: String,
    cookie: String,
    acked: BTreeMap<u64, (String, String)>, // seq -> (client_id, body)
}

/// Five users, each sending as fast as acks come back into their own
/// channel, until told to stop (by the server dying, here).
async fn send_until_the_server_dies(addr: SocketAddr) -> Vec<Sender> {
    let mut tasks = Vec::new();
    for i in 0..SENDERS {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            assert_eq!(client.register(&format!("sender{i}")).await.status(), 200);
            let channel = format!("room{i}");
            assert_eq!(client.create_channel(&channel).await.status(), 200);
            let mut ws = client.connect().await;
            let mut acked = BTreeMap::new();
            for n in 0u64.. {
                let client_id = format!("s{i}-{n}");
                let body = format!("message {n} from sender {i}");
                let frame = json!({"type": "send", "channel": channel, "client_id": client_id, "body": body});
                if ws.stream.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
                let ack = loop {
                    match tokio::time::timeout(Duration::from_secs(10), ws.stream.next()).await {
                        Ok(Some(Ok(Message::Text(text)))) => {
                            let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                            if frame["type"] == "ack" {
                                break Some(frame);
                            }
                        }
                        Ok(Some(Ok(_))) => continue,
                        _ => break None,
                    }
                };
                let Some(ack) = ack else { break };
                assert_eq!(ack["client_id"], client_id.as_str());
                acked.insert(ack["seq"].as_u64().unwrap(), (client_id, body));
            }
            Sender {
                channel,
                cookie: client.cookie.clone().unwrap(),
                acked,
            }
        }));
    }
    let mut senders = Vec::new();
    for task in tasks {
        senders.push(task.await.unwrap());
    }
    senders
}

/// After a restart: every acked message still in the 100-message window is
/// there exactly once, seqs continue above everything acked, the session
/// still works, and a retried client_id is not stored again.
async fn check_after_restart(addr: SocketAddr, senders: &[Sender]) {
    for sender in senders {
        assert!(
            !sender.acked.is_empty(),
            "{} got acks before the restart",
            sender.channel
        );
        let client = Client::with_cookie(addr, &sender.cookie);
        let me: Value = client.post("me", json!({})).await.json().await.unwrap();
        assert!(me["display_name"].is_string(), "session survives: {me}");

        let history = client.history(&sender.channel).await;
        let head = history["head"].as_u64().unwrap();
        let max_acked = *sender.acked.keys().last().unwrap();
        assert!(
            head >= max_acked,
            "head {head} covers every ack up to {max_acked}"
        );
        let stored: BTreeMap<u64, String> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["seq"].as_u64().unwrap(),
                    m["body"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            stored.len(),
            history["messages"].as_array().unwrap().len(),
            "no seq twice"
        );
        for (seq, (_, body)) in sender.acked.range(head.saturating_sub(99)..) {
            assert_eq!(
                stored.get(seq),
                Some(body),
                "acked seq {seq} of {}",
                sender.channel
            );
        }

        let mut ws = client.connect().await;
        let (last_id, _) = sender.acked.values().last().unwrap().clone();
        ws.send_message(&sender.channel, &last_id, "retry after restart")
            .await;
        assert_eq!(
            ws.until("ack").await["seq"].as_u64(),
            Some(max_acked),
            "retry is idempotent"
        );
        ws.send_message(&sender.channel, "after-restart", "new")
            .await;
        let seq = ws.until("ack").await["seq"].as_u64().unwrap();
        assert_eq!(seq, head + 1, "seq continues without reuse");
    }
}

/// Five senders write until the server gets `sig` after `after`; the server
/// restarted on the same data dir must pass `check_after_restart`. Returns
/// how the first server exited.
async fn stop_while_sending_and_restart(
    sig: &'static str,
    after: Duration,
) -> Option<std::process::ExitStatus> {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let (mut child, addr) = spawn_server(&["--data-dir", &data_dir]);
    let sending = tokio::spawn(send_until_the_server_dies(addr));
    tokio::time::sleep(after).await;
    signal(&child, sig);
    let exit =
        tokio::task::spawn_blocking(move || wait_for_exit(&mut child, Duration::from_secs(5)))
            .await
            .unwrap();
    let senders = sending.await.unwrap();

    let (mut child, addr) = spawn_server(&["--data-dir", &data_dir]);
    check_after_restart(addr, &senders).await;
    signal(&child, "KILL");
    let _ = wait_for_exit(&mut child, Duration::from_secs(5));
    exit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_message() {
    stop_while_sending_and_restart("KILL", Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_data_dir_exits_zero_and_loses_nothing_acknowledged() {
    let exit = stop_while_sending_and_restart("TERM", Duration::from_millis(1000)).await;
    assert_eq!(exit.map(|s| s.code()), Some(Some(0)), "exits 0 within 5 s");
}

#[test]
fn a_database_from_a_newer_flack_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flack.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("newer Flack") && stderr.contains("schema 99"),
        "{stderr}"
    );
}

#[test]
fn a_new_data_dir_gets_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = spawn_server(&["--data-dir", dir.path().to_str().unwrap()]);
    signal(&child, "TERM");
    assert!(wait_for_exit(&mut child, Duration::from_secs(5)).is_some());
    let version = server::log::sqlite::schema_version(&dir.path().join("flack.sqlite3")).unwrap();
    assert_eq!(version, Some(server::log::sqlite::SCHEMA_VERSION));
}

/// A session signed out stays ended after a restart (`kill -9`); one
/// still in use stays valid.
#[tokio::test]
async fn sessions_ended_before_a_restart_stay_ended() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let (mut child, addr) = spawn_server(&["--data-dir", &data_dir]);
    let mut alice = Client::new(addr);
    assert_eq!(alice.register("alice").await.status(), 200);
    let mut bob = Client::new(addr);
    assert_eq!(bob.register("bob").await.status(), 200);
    assert_eq!(alice.post("sign_out", json!({})).await.status(), 200);
    signal(&child, "KILL");
    let _ = wait_for_exit(&mut child, Duration::from_secs(5));

    let (mut child, addr) = spawn_server(&["--data-dir", &data_dir]);
    let me = |cookie: &str| {
        let client = Client::with_cookie(addr, cookie);
        async move {
            client
                .post("me", json!({}))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(me(alice.cookie.as_deref().unwrap()).await, Value::Null);
    assert_eq!(
        me(bob.cookie.as_deref().unwrap()).await["display_name"],
        "bob"
    );
    signal(&child, "KILL");
    let _ = wait_for_exit(&mut child, Duration::from_secs(5));
}
