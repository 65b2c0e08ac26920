//! Changes to existing messages (edit, delete, react), against the real
//! server: live for every viewer, authorized in the server, replayed on
//! resume, and durable with a data dir.

use crate::common::{TestServer, Ws};
use serde_json::{json, Value};

/// Sends a message and returns its `seq` from the ack.
async fn post(ws: &mut Ws, channel: &str, client_id: &str, body: &str) -> u64 {
    ws.send_message(channel, client_id, body).await;
    ws.until("ack").await["seq"].as_u64().unwrap()
}

async fn edit(ws: &mut Ws, channel: &str, id: u64, body: &str) {
    ws.send_json(json!({ "type": "edit", "channel": channel, "id": id, "body": body }))
        .await;
}

async fn delete(ws: &mut Ws, channel: &str, id: u64) {
    ws.send_json(json!({ "type": "delete", "channel": channel, "id": id }))
        .await;
}

async fn react(ws: &mut Ws, channel: &str, id: u64, emoji: &str, add: bool) {
    ws.send_json(
        json!({ "type": "react", "channel": channel, "id": id, "emoji": emoji, "add": add }),
    )
    .await;
}

/// The next frame that is not a `pong`, after a `ping` proves the server
/// answered everything sent before it: `None` when nothing else came.
async fn next_event_before_pong(ws: &mut Ws) -> Option<Value> {
    ws.send_json(json!({ "type": "ping" })).await;
    let frame = ws.next_json().await;
    (frame["type"] != "pong").then_some(frame)
}

/// `(seq, body, edited?, reactions)` of each message, as the history API has them.
fn summary(messages: &[Value]) -> Vec<(u64, String, bool, Value)> {
    messages
        .iter()
        .map(|m| {
            (
                m["seq"].as_u64().unwrap(),
                m["body"].as_str().unwrap().to_owned(),
                m.get("edited_at").is_some(),
                m.get("reactions").cloned().unwrap_or(json!([])),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_author_edits_and_deletes_live_for_everyone() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    b.join("general", None).await;
    let id = post(&mut a, "general", "c1", "helo").await;
    b.until("message").await;

    edit(&mut a, "general", id, "hello **everyone**").await;
    for ws in [&mut a, &mut b] {
        let frame = ws.until("edited").await;
        assert_eq!(frame["id"], id);
        assert!(frame["seq"].as_u64().unwrap() > id);
        assert_eq!(frame["body"], "hello **everyone**");
        assert_eq!(frame["html"], "<p>hello <strong>everyone</strong></p>\n");
        assert!(frame["edited_at"].as_str().unwrap().ends_with('Z'));
    }
    let history = alice.history("general").await;
    assert_eq!(history["messages"][0]["body"], "hello **everyone**");
    assert!(history["messages"][0]["edited_at"].is_string());

    delete(&mut a, "general", id).await;
    for ws in [&mut a, &mut b] {
        let frame = ws.until("deleted").await;
        assert_eq!(frame["id"], id);
    }
    let history = bob.history("general").await;
    assert_eq!(history["messages"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn a_forged_edit_or_delete_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    let id = post(&mut a, "general", "c1", "mine").await;

    edit(&mut b, "general", id, "hacked").await;
    let err = b.until("error").await;
    assert_eq!(err["code"], "forbidden");
    assert_eq!(err["id"], id);
    assert_eq!(err["channel"], "general");
    assert!(err["message"].as_str().unwrap().contains("author"));
    delete(&mut b, "general", id).await;
    assert_eq!(b.until("error").await["code"], "forbidden");

    edit(&mut a, "general", 999, "where").await;
    let err = a.until("error").await;
    assert_eq!(err["code"], "unknown_message");
    assert_eq!(err["id"], 999);
    react(&mut b, "general", id, "<script>", true).await;
    let err = b.until("error").await;
    assert_eq!(err["code"], "invalid_frame");
    assert!(err["message"].as_str().unwrap().contains("reactions"));
    b.send_json(json!({ "type": "edit", "channel": "general", "id": id, "body": "" }))
        .await;
    assert_eq!(b.until("error").await["code"], "invalid_frame");

    assert_eq!(
        next_event_before_pong(&mut a).await,
        None,
        "alice saw no change"
    );
    let history = alice.history("general").await;
    assert_eq!(history["messages"][0]["body"], "mine");
    assert_eq!(history["head"], id, "refusals take no seq");
    server.stop().await;
}

#[tokio::test]
async fn each_user_reacts_at_most_once_per_emoji() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join("general", None).await;
    // The sender views the channel: it gets the ack and the message, in
    // either order (PROTOCOL §4.3).
    a.send_message("general", "c1", "react to me").await;
    let mut id = None;
    let mut seen = false;
    while id.is_none() || !seen {
        let frame = a.next_json().await;
        match frame["type"].as_str() {
            Some("ack") => id = frame["seq"].as_u64(),
            Some("message") => seen = true,
            _ => {}
        }
    }
    let id = id.unwrap();

    react(&mut b, "general", id, "👍", true).await;
    let frame = a.until("reactions").await;
    assert_eq!(
        frame["reactions"],
        json!([{ "emoji": "👍", "users": ["bob"] }])
    );
    react(&mut b, "general", id, "👍", true).await;
    assert_eq!(
        next_event_before_pong(&mut a).await,
        None,
        "a second identical reaction is no event"
    );
    react(&mut a, "general", id, "👍", true).await;
    react(&mut a, "general", id, "🎉", true).await;
    a.until("reactions").await;
    let frame = a.until("reactions").await;
    assert_eq!(
        frame["reactions"],
        json!([{ "emoji": "👍", "users": ["bob", "alice"] }, { "emoji": "🎉", "users": ["alice"] }])
    );
    react(&mut b, "general", id, "👍", false).await;
    let frame = a.until("reactions").await;
    assert_eq!(
        frame["reactions"],
        json!([{ "emoji": "👍", "users": ["alice"] }, { "emoji": "🎉", "users": ["alice"] }])
    );
    let history = bob.history("general").await;
    assert_eq!(history["messages"][0]["reactions"], frame["reactions"]);
    server.stop().await;
}

/// Applies a backlog of events to a view, as a client does.
fn apply(view: &mut Vec<Value>, events: Vec<Value>) {
    for event in events {
        let id = &event["id"];
        match event["type"].as_str().unwrap() {
            "reset" => view.clear(),
            "message" => view.push(event),
            "edited" => {
                if let Some(m) = view.iter_mut().find(|m| &m["seq"] == id) {
                    m["body"] = event["body"].clone();
                    m["edited_at"] = event["edited_at"].clone();
                }
            }
            "deleted" => view.retain(|m| &m["seq"] != id),
            "reactions" => {
                if let Some(m) = view.iter_mut().find(|m| &m["seq"] == id) {
                    m["reactions"] = event["reactions"].clone();
                }
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn a_viewer_that_was_away_resumes_into_the_current_state() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let carol = server.user("carol").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let first = post(&mut a, "general", "c0", "before").await;

    let mut c = carol.connect().await;
    let (backlog, joined) = c.join("general", None).await;
    let mut view = backlog;
    let head = joined["head"].as_u64().unwrap();
    drop(c);

    // While carol is away: new messages, an edit, a deletion, reactions.
    let second = post(&mut a, "general", "c1", "second").await;
    let third = post(&mut a, "general", "c2", "third").await;
    edit(&mut a, "general", first, "before, edited").await;
    delete(&mut a, "general", second).await;
    react(&mut a, "general", third, "👀", true).await;
    a.until("reactions").await;

    let mut c = carol.connect().await;
    let (events, _) = c.join("general", Some(head)).await;
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "message" && e["body"] == "second"),
        "a deleted message is never sent again: {events:?}"
    );
    apply(&mut view, events);
    let history = carol.history("general").await;
    let fresh = history["messages"].as_array().unwrap();
    assert_eq!(summary(&view), summary(fresh));
    assert_eq!(
        summary(&view).iter().map(|m| m.0).collect::<Vec<_>>(),
        vec![first, third]
    );
    server.stop().await;
}

#[tokio::test]
async fn with_a_data_dir_changes_survive_a_restart_and_seqs_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let with_dir = |config: &mut server::Config| config.data_dir = Some(data_dir.clone());

    let server = TestServer::start_with(with_dir).await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let first = post(&mut a, "general", "c0", "one").await;
    let second = post(&mut a, "general", "c1", "two").await;
    let last = post(&mut a, "general", "c2", "three").await;
    edit(&mut a, "general", first, "one, _edited_").await;
    react(&mut a, "general", second, "❤️", true).await;
    delete(&mut a, "general", last).await;
    a.until("deleted").await;
    let before = alice.history("general").await;
    drop(a);
    server.stop().await;

    let server = TestServer::start_with(with_dir).await;
    let reader = server.user("reader").await;
    let after = reader.history("general").await;
    assert_eq!(
        summary(after["messages"].as_array().unwrap()),
        summary(before["messages"].as_array().unwrap())
    );
    assert_eq!(
        after["messages"][0]["html"],
        "<p>one, <em>edited</em></p>\n"
    );
    assert_eq!(after["head"], before["head"]);
    let mut r = reader.connect().await;
    r.join("general", None).await;
    let next = post(&mut r, "general", "r0", "after the restart").await;
    assert!(
        next > before["head"].as_u64().unwrap(),
        "the deleted last message's seq is not reused"
    );
    server.stop().await;
}
