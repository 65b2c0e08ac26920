//! Presence and typing against the real server: who is here (online, away,
//! offline, live to everyone), and ephemeral typing notices to a channel's
//! viewers only.

use crate::common::TestServer;
use serde_json::{json, Value};

async fn people(client: &crate::common::Client) -> Value {
    client.post("people", json!({})).await.json().await.unwrap()
}

#[tokio::test]
async fn presence_follows_connections_and_hidden_tabs_live() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut b = bob.connect().await;
    assert_eq!(
        people(&bob).await,
        json!([{ "name": "alice", "status": "offline" }, { "name": "bob", "status": "online" }])
    );

    let mut tab1 = alice.connect().await;
    assert_eq!(b.presence_of("alice").await, "online");
    let mut tab2 = alice.connect().await;
    tab1.send_json(json!({ "type": "away", "away": true }))
        .await;
    // One of two tabs hidden: still online (no frame); both hidden: away.
    tab2.send_json(json!({ "type": "away", "away": true }))
        .await;
    assert_eq!(b.presence_of("alice").await, "away");
    assert_eq!(people(&bob).await[0]["status"], "away");
    tab2.send_json(json!({ "type": "away", "away": false }))
        .await;
    assert_eq!(b.presence_of("alice").await, "online");

    // The visible tab closes: only the hidden one is left, so away; then
    // none: offline, at once.
    drop(tab2);
    assert_eq!(b.presence_of("alice").await, "away");
    drop(tab1);
    assert_eq!(b.presence_of("alice").await, "offline");
    assert_eq!(people(&bob).await[0]["status"], "offline");
    server.stop().await;
}

#[tokio::test]
async fn typing_reaches_the_channels_viewers_only_and_takes_no_seq() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    alice.create_channel("general").await;
    alice.create_channel("random").await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    let mut c = carol.connect().await;
    b.join("general", None).await;
    c.join("random", None).await;
    a.join("general", None).await;

    a.send_json(json!({ "type": "typing", "channel": "general" }))
        .await;
    let frame = b.until("typing").await;
    assert_eq!(
        frame,
        json!({ "type": "typing", "channel": "general", "user": "alice" })
    );
    // Within the throttle a second notice is dropped; a message is not.
    a.send_json(json!({ "type": "typing", "channel": "general" }))
        .await;
    a.send_message("general", "m1", "hello").await;
    let next = b.next_json().await;
    assert_eq!(
        next["type"], "message",
        "the repeated notice was dropped: {next}"
    );
    assert_eq!(next["seq"], 1, "typing took no seq");

    // Carol views another channel: she hears nothing of it.
    c.send_json(json!({ "type": "ping" })).await;
    assert_eq!(c.until("pong").await["type"], "pong");
    let (backlog, _) = c.join("general", Some(0)).await;
    assert!(
        backlog.iter().all(|f| f["type"] != "typing"),
        "typing is never replayed: {backlog:?}"
    );
    // The throttle is per connection: on a fresh one, a notice for a
    // channel that does not exist is refused.
    let mut fresh = alice.connect().await;
    fresh
        .send_json(json!({ "type": "typing", "channel": "nowhere" }))
        .await;
    let err = fresh.until("error").await;
    assert_eq!(err["code"], "unknown_channel");
    server.stop().await;
}

/// 200 away/back toggles from one connection reach an observer as a
/// handful of frames, not 200, and the observer ends with the right state;
/// with Redis, across servers too.
#[tokio::test]
async fn a_flood_of_presence_toggles_reaches_others_coalesced_and_ends_right() {
    let interval = |c: &mut server::Config| c.presence_interval_ms = 300;
    let server = TestServer::start_with(interval).await;
    toggles_are_coalesced(&server, &server).await;
    server.stop().await;

    let redis = crate::common::RedisServer::start();
    let on = |redis: &crate::common::RedisServer| {
        let url = redis.url();
        TestServer::start_with(move |c| {
            interval(c);
            c.redis_url = Some(url);
        })
    };
    let (a, b) = (on(&redis).await, on(&redis).await);
    toggles_are_coalesced(&a, &b).await;
    a.stop().await;
    b.stop().await;
}

/// Alice toggles on `hers`; Bob watches from `his`.
async fn toggles_are_coalesced(hers: &TestServer, his: &TestServer) {
    let alice = hers.user("alice").await;
    let bob = his.user("bob").await;
    let mut b = bob.connect().await;
    let mut tab = alice.connect().await;
    assert_eq!(b.presence_of("alice").await, "online");
    for i in 0..200 {
        tab.send_json(json!({ "type": "away", "away": i % 2 == 0 }))
            .await;
    }
    tab.send_json(json!({ "type": "ping" })).await;
    tab.until("pong").await;
    drop(tab);
    let mut heard = Vec::new();
    while heard.last().map(String::as_str) != Some("offline") {
        heard.push(b.presence_of("alice").await);
    }
    assert!(heard.len() <= 6, "{} frames: {heard:?}", heard.len());
    assert_eq!(people(&bob).await[0]["status"], "offline");
}
