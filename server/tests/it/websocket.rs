//! The WebSocket half of the wire contract, against the real server.

use crate::common::TestServer;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_clients_see_each_others_messages_in_order() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    b.join("general", None).await;

    let mut seen_by_a = Vec::new();
    let mut seen_by_b = Vec::new();
    for i in 0..10 {
        let (ws, id) = if i % 2 == 0 {
            (&mut a, "a")
        } else {
            (&mut b, "b")
        };
        ws.send_message("general", &format!("{id}{i}"), &format!("message {i}"))
            .await;
        for (ws, seen) in [(&mut a, &mut seen_by_a), (&mut b, &mut seen_by_b)] {
            let frame = ws.until("message").await;
            seen.push((
                frame["seq"].as_u64().unwrap(),
                frame["author"].as_str().unwrap().to_owned(),
                frame["body"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let expected: Vec<_> = (0..10)
        .map(|i| {
            (
                i as u64 + 1,
                if i % 2 == 0 { "alice" } else { "bob" }.to_owned(),
                format!("message {i}"),
            )
        })
        .collect();
    assert_eq!(seen_by_a, expected);
    assert_eq!(seen_by_b, expected);
    server.stop().await;
}

#[tokio::test]
async fn messages_carry_the_server_given_author_seq_and_timestamp() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    a.send_message("general", "c1", "hi").await;
    let message = a.until("message").await;
    assert_eq!(message["author"], "alice");
    assert_eq!(message["channel"], "general");
    assert_eq!(message["seq"], 1);
    assert_eq!(message["client_id"], "c1");
    let sent_at = message["sent_at"].as_str().unwrap();
    assert!(sent_at.ends_with('Z') && sent_at.len() == 24, "{sent_at}");
    server.stop().await;
}

#[tokio::test]
async fn after_150_sends_a_channel_holds_exactly_the_last_100() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    for i in 1..=150 {
        a.send_message("general", &format!("c{i}"), &format!("m{i}"))
            .await;
    }
    let mut acked = 0;
    while acked < 150 {
        a.until("ack").await;
        acked += 1;
    }
    let history = alice.history("general").await;
    assert_eq!(history["head"], 150);
    let bodies: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        bodies,
        (51..=150).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );

    let mut fresh = alice.connect().await;
    let (backlog, joined) = fresh.join("general", None).await;
    assert_eq!(backlog.len(), 100);
    assert_eq!(backlog[0]["seq"], 51);
    assert_eq!(joined["head"], 150);
    server.stop().await;
}

#[tokio::test]
async fn resuming_after_a_seq_replays_only_what_came_after() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    for i in 1..=5 {
        a.send_message("general", &format!("c{i}"), &format!("m{i}"))
            .await;
        a.until("ack").await;
    }
    let mut b = alice.connect().await;
    let (backlog, joined) = b.join("general", Some(3)).await;
    let seqs: Vec<_> = backlog.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [4, 5]);
    assert_eq!(joined["head"], 5);

    let (backlog, _) = b.join("general", Some(5)).await;
    assert!(backlog.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn resuming_from_a_point_no_longer_held_gets_a_reset_and_the_last_100() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    for i in 1..=120 {
        a.send_message("general", &format!("c{i}"), "x").await;
    }
    for _ in 0..120 {
        a.until("ack").await;
    }
    let mut b = alice.connect().await;
    let (backlog, _) = b.join("general", Some(5)).await;
    assert_eq!(backlog[0]["type"], "reset");
    assert_eq!(backlog.len(), 101);
    assert_eq!(backlog[1]["seq"], 21);
    server.stop().await;
}

#[tokio::test]
async fn a_retried_client_id_is_stored_once_and_acked_with_the_same_seq() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    let mut a2 = alice.connect().await;
    a.send_message("general", "same-id", "once").await;
    a2.send_message("general", "same-id", "once").await;
    let ack1 = a.until("ack").await;
    let ack2 = a2.until("ack").await;
    assert_eq!(ack1["seq"], ack2["seq"]);
    let history = alice.history("general").await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn invalid_frames_get_error_frames_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    let long_body = "x".repeat(4001);
    let cases = [
        ("{not json".to_owned(), "bad_json"),
        (json!({"type": "dance"}).to_string(), "unknown_type"),
        (json!({"channel": "general"}).to_string(), "unknown_type"),
        (json!({"type": "send", "channel": "general", "body": "no id"}).to_string(), "invalid_frame"),
        (json!({"type": "send", "channel": "general", "client_id": "c", "body": "   "}).to_string(), "invalid_frame"),
        (json!({"type": "send", "channel": "general", "client_id": "c", "body": long_body}).to_string(), "invalid_frame"),
        (json!({"type": "send", "channel": "general", "client_id": "c", "body": "x", "author": "bob"}).to_string(), "invalid_frame"),
        (json!({"type": "join", "channel": "nowhere"}).to_string(), "unknown_channel"),
        (json!({"type": "send", "channel": "nowhere", "client_id": "c", "body": "x"}).to_string(), "unknown_channel"),
    ];
    for (text, code) in cases {
        a.send_text(&text).await;
        let error = a.until("error").await;
        assert_eq!(error["code"], code, "{text}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }

    // The refused send with an id reports it, so a client can match it.
    a.send_json(json!({"type": "send", "channel": "general", "client_id": "long", "body": "y".repeat(5000)}))
        .await;
    let error = a.until("error").await;
    assert_eq!(error["client_id"], "long");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("5000 characters"));

    a.stream
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(a.until("error").await["code"], "binary_not_supported");

    // Still working, and nothing was stored by the refusals.
    a.send_message("general", "ok", "still here").await;
    assert_eq!(a.until("ack").await["seq"], 1);
    assert_eq!(
        alice.history("general").await["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_that_connection_only() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut big = alice.connect().await;
    let mut other = alice.connect().await;
    let huge = format!(
        r#"{{"type":"send","channel":"general","client_id":"c","body":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let _ = big.stream.send(Message::text(huge)).await;
    loop {
        match tokio::time::timeout(crate::common::FRAME_WAIT, big.stream.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => {
                if let Some(frame) = frame {
                    assert_eq!(u16::from(frame.code), 1009);
                }
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break,
        }
    }
    other.send_message("general", "c2", "unaffected").await;
    assert_eq!(other.until("ack").await["seq"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_socket_without_a_session_is_refused() {
    let server = TestServer::start().await;
    let err = server
        .anonymous()
        .try_connect(None)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("401"), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn a_cross_site_websocket_is_refused_and_same_site_is_allowed() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let err = alice
        .try_connect(Some("https://evil.example"))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let own = format!("http://{}", server.addr);
    assert!(alice.try_connect(Some(&own)).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn a_channel_created_elsewhere_is_announced_live() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut b = bob.connect().await;
    alice.create_channel("random").await;
    let created = b.until("channel_created").await;
    assert_eq!(created["channel"]["name"], "random");
    assert_eq!(created["channel"]["created_by"], "alice");
    server.stop().await;
}

#[tokio::test]
async fn the_welcome_names_the_user_and_the_server_run() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("one").await;
    let mut ws = alice.try_connect(None).await.unwrap();
    let welcome = ws.next_json().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["user"]["display_name"], "alice");
    assert!(welcome["server_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(
        welcome.get("channels").is_none(),
        "channels are listed over HTTP"
    );
    let mut again = alice.try_connect(None).await.unwrap();
    assert_eq!(again.next_json().await["server_id"], welcome["server_id"]);
    server.stop().await;
}

#[tokio::test]
async fn ping_frames_are_answered_with_pong() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut ws = alice.connect().await;
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_json().await["type"], "pong");
    server.stop().await;
}

use futures::{SinkExt, StreamExt};

#[tokio::test]
async fn mentions_of_existing_users_are_found_by_the_server() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.user("Bob Smith").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    a.send_message("general", "m1", "hey @bob smith and @nobody, cc @ALICE")
        .await;
    let frame = a.until("message").await;
    assert_eq!(frame["mentions"], json!(["Bob Smith", "alice"]));
    let html = frame["html"].as_str().unwrap();
    assert!(
        html.contains(r#"<span class="mention">@bob smith</span>"#),
        "{html}"
    );
    assert!(!html.contains("@nobody</span>"), "{html}");
    a.send_message("general", "m2", "no one here").await;
    let frame = a.until("message").await;
    assert!(frame.get("mentions").is_none(), "{frame}");
    assert!(
        frame.get("html").is_none(),
        "plain text needs no html: {frame}"
    );

    let users: serde_json::Value = alice
        .post("list_users", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users, json!(["alice", "Bob Smith"]));
    server.stop().await;
}
