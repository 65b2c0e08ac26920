//! Threads against the real server: replies live for every viewer with the
//! thread's summary, kept apart from the channel's messages (unless also
//! sent there), in the channel's one `seq` order so a resume misses none,
//! bounded, leaving with their first message, behind the channel's door,
//! and kept by every log.

use crate::common::{Client, RedisServer, TestServer, Ws};
use serde_json::{json, Value};

/// Sends a message (a reply with `root`) and returns its `seq` from the ack.
async fn send(ws: &mut Ws, client_id: &str, body: &str, root: Option<(u64, bool)>) -> u64 {
    let mut frame =
        json!({ "type": "send", "channel": "general", "client_id": client_id, "body": body });
    if let Some((root, also)) = root {
        frame["reply_to"] = json!({ "root": root, "also_in_channel": also });
    }
    ws.send_json(frame).await;
    loop {
        let frame = ws.next_json().await;
        match frame["type"].as_str() {
            Some("ack") => return frame["seq"].as_u64().unwrap(),
            Some("error") => panic!("send refused: {frame}"),
            _ => {}
        }
    }
}

async fn reply(ws: &mut Ws, client_id: &str, body: &str, root: u64) -> u64 {
    send(ws, client_id, body, Some((root, false))).await
}

/// The `thread` answer (or the refusal) for `root` of `channel`.
async fn open(ws: &mut Ws, channel: &str, root: u64) -> Value {
    ws.send_json(json!({ "type": "thread", "channel": channel, "root": root }))
        .await;
    loop {
        let frame = ws.next_json().await;
        if frame["type"] == "thread" || frame["type"] == "error" {
            return frame;
        }
    }
}

fn seqs(messages: &Value) -> Vec<u64> {
    (messages.as_array().unwrap().iter())
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

/// The message `seq` in a channel's history.
fn in_history(history: &Value, seq: u64) -> Option<Value> {
    (history["messages"].as_array().unwrap().iter())
        .find(|m| m["seq"] == seq)
        .cloned()
}

#[tokio::test]
async fn a_reply_reaches_viewers_live_raises_the_count_and_stays_out_of_the_channel() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    b.join("general", None).await;
    let root = send(&mut a, "r", "Lunch?", None).await;
    b.until("message").await;

    let first = reply(&mut b, "b1", "Yes, @alice", root).await;
    let live = a.until("reply").await;
    assert_eq!(live["message"]["seq"], first);
    assert_eq!(live["message"]["reply_to"], json!({ "root": root }));
    assert_eq!(
        live["message"]["mentions"],
        json!(["alice"]),
        "a mention in a thread"
    );
    assert_eq!(live["thread"]["count"], 1);
    assert_eq!(live["thread"]["last_at"], live["message"]["sent_at"]);
    let second = reply(&mut a, "a1", "Noon", root).await;
    loop {
        let live = b.until("reply").await;
        if live["message"]["seq"] == second {
            assert_eq!(live["thread"]["count"], 2);
            break;
        }
    }

    let history = bob.history("general").await;
    assert_eq!(
        seqs(&history["messages"]),
        vec![root],
        "replies stay in their thread"
    );
    let first_message = in_history(&history, root).unwrap();
    assert_eq!(first_message["replies"]["count"], 2);
    assert_eq!(history["head"], second);

    let thread = open(&mut b, "general", root).await;
    assert_eq!(thread["root"]["seq"], root);
    assert_eq!(thread["head"], second);
    assert_eq!(seqs(&thread["replies"]), vec![first, second]);
    server.stop().await;
}

#[tokio::test]
async fn a_reply_also_sent_to_the_channel_is_in_both() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "r", "Plan", None).await;
    let quiet = reply(&mut a, "q", "detail", root).await;
    let loud = send(&mut a, "l", "Decided: Friday", Some((root, true))).await;
    let history = alice.history("general").await;
    assert_eq!(seqs(&history["messages"]), vec![root, loud]);
    assert_eq!(
        in_history(&history, loud).unwrap()["reply_to"]["also_in_channel"],
        true
    );
    let thread = open(&mut a, "general", root).await;
    assert_eq!(seqs(&thread["replies"]), vec![quiet, loud]);
    assert_eq!(thread["root"]["replies"]["count"], 2);
    server.stop().await;
}

#[tokio::test]
async fn a_resume_replays_every_thread_event_once_in_order() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "r", "root", None).await;
    let mut b = bob.connect().await;
    let (_, joined) = b.join("general", None).await;
    let left_at = joined["head"].as_u64().unwrap();
    drop(b);

    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(reply(&mut a, &format!("a{i}"), &format!("reply {i}"), root).await);
    }
    a.send_json(json!({ "type": "edit", "channel": "general", "id": sent[1], "body": "edited" }))
        .await;
    a.until("edited").await;

    let mut b = bob.connect().await;
    let (backlog, _) = b.join("general", Some(left_at)).await;
    let replies: Vec<u64> = (backlog.iter())
        .filter(|f| f["type"] == "reply")
        .map(|f| f["message"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(replies, sent, "every reply once, in order");
    assert_eq!(backlog.last().unwrap()["type"], "edited");
    let (backlog, _) = b.join("general", Some(sent[2])).await;
    let after: Vec<&str> = backlog
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(after, ["reply", "reply", "edited"]);
    server.stop().await;
}

#[tokio::test]
async fn replies_are_edited_reacted_to_and_deleted_like_messages() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    b.join("general", None).await;
    let root = send(&mut a, "r", "root", None).await;
    let one = reply(&mut a, "one", "one", root).await;
    let two = reply(&mut a, "two", "two", root).await;

    b.send_json(json!({ "type": "edit", "channel": "general", "id": one, "body": "mine?" }))
        .await;
    assert_eq!(b.until("error").await["code"], "forbidden");
    b.send_json(
        json!({ "type": "react", "channel": "general", "id": one, "emoji": "👍", "add": true }),
    )
    .await;
    assert_eq!(a.until("reactions").await["id"], one);
    a.send_json(json!({ "type": "edit", "channel": "general", "id": one, "body": "**one**" }))
        .await;
    assert_eq!(
        b.until("edited").await["html"],
        "<p><strong>one</strong></p>\n"
    );
    a.send_json(json!({ "type": "delete", "channel": "general", "id": two }))
        .await;
    let deleted = b.until("deleted").await;
    assert_eq!(
        (deleted["id"].as_u64(), deleted["root"].as_u64()),
        (Some(two), Some(root))
    );
    assert_eq!(deleted["thread"]["count"], 1);

    let thread = open(&mut b, "general", root).await;
    assert_eq!(seqs(&thread["replies"]), vec![one]);
    assert_eq!(thread["replies"][0]["body"], "**one**");
    assert_eq!(
        thread["replies"][0]["reactions"][0]["users"],
        json!(["bob"])
    );
    assert_eq!(thread["root"]["replies"]["count"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_thread_keeps_its_last_hundred_replies_and_leaves_with_its_first_message() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "r", "busy thread", None).await;
    let mut last = 0;
    for i in 0..105 {
        last = reply(&mut a, &format!("c{i}"), &format!("reply {i}"), root).await;
    }
    let thread = open(&mut a, "general", root).await;
    let kept = seqs(&thread["replies"]);
    assert_eq!(kept.len(), 100);
    assert_eq!(*kept.last().unwrap(), last);
    assert_eq!(
        thread["root"]["replies"]["count"], 105,
        "the count is of every reply"
    );

    // Deleting the first message takes the thread; nothing more joins it.
    a.send_json(json!({ "type": "delete", "channel": "general", "id": root }))
        .await;
    a.until("deleted").await;
    assert_eq!(
        open(&mut a, "general", root).await["code"],
        "unknown_message"
    );
    a.send_json(
        json!({ "type": "send", "channel": "general", "client_id": "late",
        "body": "late", "reply_to": { "root": root } }),
    )
    .await;
    assert_eq!(a.until("error").await["code"], "unknown_message");

    // A thread whose first message leaves the window goes with it.
    let other = send(&mut a, "o", "another", None).await;
    reply(&mut a, "o1", "in another", other).await;
    for i in 0..100 {
        send(&mut a, &format!("m{i}"), "filler", None).await;
    }
    assert_eq!(
        open(&mut a, "general", other).await["code"],
        "unknown_message"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_thread_is_behind_its_channels_door() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let carol = server.user("carol").await;
    let dm = alice.open_conversation("bob").await;
    let mut a = alice.connect().await;
    a.join(&dm, None).await;
    a.send_json(json!({ "type": "send", "channel": dm, "client_id": "p", "body": "secret" }))
        .await;
    let root = a.until("ack").await["seq"].as_u64().unwrap();

    let mut c = carol.connect().await;
    // Not viewing it: refused before the door is even asked.
    assert_eq!(open(&mut c, &dm, root).await["code"], "invalid_frame");
    for (i, channel) in [dm.clone(), dm.to_uppercase()].into_iter().enumerate() {
        c.send_json(json!({ "type": "join", "channel": channel }))
            .await;
        assert_eq!(c.until("error").await["code"], "unknown_channel");
        c.send_json(
            json!({ "type": "send", "channel": channel, "client_id": format!("x{i}"),
            "body": "in", "reply_to": { "root": root } }),
        )
        .await;
        assert_eq!(c.until("error").await["code"], "unknown_channel");
    }
    let thread = open(&mut a, &dm, root).await;
    assert_eq!(thread["type"], "thread");
    server.stop().await;
}

/// Replies, a reply also in the channel, a deletion and the counts, as a
/// server reads them back from its log.
async fn write_threads(server: &TestServer) -> (Client, u64, Value) {
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "r", "root", None).await;
    reply(&mut a, "q1", "quiet one", root).await;
    let doomed = reply(&mut a, "q2", "quiet two", root).await;
    send(&mut a, "l", "loud", Some((root, true))).await;
    a.send_json(json!({ "type": "delete", "channel": "general", "id": doomed }))
        .await;
    a.until("deleted").await;
    let thread = open(&mut a, "general", root).await;
    (alice, root, thread)
}

#[tokio::test]
async fn with_a_data_dir_threads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let with_dir = |config: &mut server::Config| config.data_dir = Some(data_dir.clone());
    let server = TestServer::start_with(with_dir).await;
    let (_, root, before) = write_threads(&server).await;
    server.stop().await;

    let server = TestServer::start_with(with_dir).await;
    let reader = server.user("reader").await;
    let mut r = reader.connect().await;
    r.join("general", None).await;
    let after = open(&mut r, "general", root).await;
    assert_eq!(after["replies"], before["replies"]);
    assert_eq!(after["root"]["replies"], before["root"]["replies"]);
    assert_eq!(after["root"]["replies"]["count"], 2);
    server.stop().await;
}

#[tokio::test]
async fn a_server_joining_redis_later_holds_the_same_threads() {
    let redis = RedisServer::start();
    let url = redis.url();
    let on_redis = move |config: &mut server::Config| config.redis_url = Some(url.clone());
    let first = TestServer::start_with(on_redis.clone()).await;
    let (_, root, before) = write_threads(&first).await;

    let second = TestServer::start_with(on_redis).await;
    let reader = second.user("reader").await;
    let mut r = reader.connect().await;
    r.join("general", None).await;
    let after = open(&mut r, "general", root).await;
    assert_eq!(after["replies"], before["replies"]);
    assert_eq!(after["root"]["replies"], before["root"]["replies"]);
    second.stop().await;
    first.stop().await;
}

/// A reply racing its thread's deletion is either stored (every viewer
/// gets it before the deletion) or refused: never acknowledged and lost.
#[tokio::test]
async fn a_reply_racing_the_deletion_of_its_thread_is_stored_or_refused() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    for n in 0..30 {
        let root = send(&mut a, &format!("root{n}"), "root", None).await;
        let reply = json!({ "type": "send", "channel": "general", "client_id": format!("r{n}"),
            "body": "racing", "reply_to": { "root": root } });
        let delete = json!({ "type": "delete", "channel": "general", "id": root });
        tokio::join!(b.send_json(reply), a.send_json(delete));
        let answer = loop {
            let frame = b.next_json().await;
            if frame["type"] == "ack" || frame["type"] == "error" {
                break frame;
            }
        };
        // Alice's stream up to the deletion: the reply if it was stored.
        let mut replied = None;
        loop {
            let frame = a.next_json().await;
            match frame["type"].as_str() {
                Some("reply") => replied = frame["message"]["seq"].as_u64(),
                Some("deleted") if frame["id"] == root => break,
                _ => {}
            }
        }
        match answer["type"].as_str() {
            Some("ack") => assert_eq!(
                replied,
                answer["seq"].as_u64(),
                "try {n}: acked, never shown"
            ),
            _ => {
                assert_eq!(answer["code"], "unknown_message", "try {n}: {answer}");
                assert_eq!(replied, None);
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_retried_reply_is_answered_even_after_its_thread_went() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "root", "root", None).await;
    let first = reply(&mut a, "same", "a reply", root).await;
    a.send_json(json!({ "type": "delete", "channel": "general", "id": root }))
        .await;
    a.until("deleted").await;
    assert_eq!(reply(&mut a, "same", "a reply", root).await, first);
    a.send_json(
        json!({ "type": "send", "channel": "general", "client_id": "x", "body": "x",
        "reply_to": { "root": first, "extra": 1 } }),
    )
    .await;
    assert_eq!(a.until("error").await["code"], "invalid_frame");
    server.stop().await;
}

#[tokio::test]
async fn a_reply_carries_attachments_which_leave_with_its_thread() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "r", "root", None).await;
    let response = alice.upload("notes.txt", b"thread notes".to_vec()).await;
    assert_eq!(response.status(), 200);
    let file: Value = response.json().await.unwrap();
    let path = format!("/files/{}/notes.txt", file["id"].as_str().unwrap());
    a.send_json(
        json!({ "type": "send", "channel": "general", "client_id": "f",
        "body": "see **attached**", "attachments": [file["id"]], "reply_to": { "root": root } }),
    )
    .await;
    let live = a.until("reply").await;
    assert_eq!(live["message"]["attachments"][0]["id"], file["id"]);
    assert_eq!(
        live["message"]["html"],
        "<p>see <strong>attached</strong></p>\n"
    );
    assert_eq!(
        bob.get(&path).await.status(),
        200,
        "a reply's file, to a member"
    );
    a.send_json(json!({ "type": "delete", "channel": "general", "id": root }))
        .await;
    a.until("deleted").await;
    // Files go on the blocking pool after the deletion is applied.
    let mut gone = false;
    for _ in 0..250 {
        if bob.get(&path).await.status() == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "the file outlived its thread");
    server.stop().await;
}

/// A viewer of one server resumes on another (both on one Redis) and
/// gets every reply posted meanwhile, once, in order.
#[tokio::test]
async fn a_resume_on_another_server_misses_no_reply() {
    let redis = RedisServer::start();
    let url = redis.url();
    let on_redis = move |config: &mut server::Config| config.redis_url = Some(url.clone());
    let first = TestServer::start_with(on_redis.clone()).await;
    let second = TestServer::start_with(on_redis).await;
    let (alice, bob) = first.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let root = send(&mut a, "r", "root", None).await;
    let mut b = bob.connect().await;
    let (_, joined) = b.join("general", None).await;
    let left_at = joined["head"].as_u64().unwrap();
    drop(b);
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(reply(&mut a, &format!("a{i}"), &format!("reply {i}"), root).await);
    }
    let elsewhere = Client::with_cookie(second.addr, bob.cookie.as_deref().unwrap());
    let mut b = elsewhere.connect().await;
    // The second server has applied the log up to the last reply once it
    // answers a thread with it.
    loop {
        b.join("general", None).await;
        let thread = open(&mut b, "general", root).await;
        if thread["head"].as_u64() >= sent.last().copied() {
            break;
        }
    }
    let (backlog, _) = b.join("general", Some(left_at)).await;
    let replies: Vec<u64> = (backlog.iter())
        .filter(|f| f["type"] == "reply")
        .map(|f| f["message"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(replies, sent);
    second.stop().await;
    first.stop().await;
}
