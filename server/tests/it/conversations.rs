//! Private conversations against the real server: only the two
//! participants can read or receive one, through any endpoint or frame.

use crate::common::TestServer;
use serde_json::{json, Value};

#[tokio::test]
async fn only_the_two_participants_see_a_conversation() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    alice.create_channel("general").await;
    let mut c_lobby = carol.connect().await;

    let opened = alice
        .post("open_conversation", json!({ "with": "Bob" }))
        .await;
    assert_eq!(opened.status(), 200);
    let channel: Value = opened.json().await.unwrap();
    let name = channel["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("dm:"), "{name}");
    let again: Value = bob
        .post("open_conversation", json!({ "with": "alice" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["name"], name,
        "one conversation per pair, from either side"
    );
    assert_eq!(
        bob.post("list_conversations", json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!([{ "channel": name, "with": "alice" }])
    );

    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    a.join(&name, None).await;
    b.join(&name, None).await;
    a.send_message(&name, "p1", "psst, @bob").await;
    assert_eq!(a.until("ack").await["seq"], 1);
    assert_eq!(b.until("message").await["body"], "psst, @bob");
    assert_eq!(
        bob.post("unread", json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap()[0]["channel"],
        name
    );

    // Carol, through every door: nothing, and no sign it exists.
    let mut c = carol.connect().await;
    for frame in [
        json!({ "type": "join", "channel": name }),
        json!({ "type": "send", "channel": name, "client_id": "c1", "body": "let me in" }),
        json!({ "type": "edit", "channel": name, "id": 1, "body": "mine now" }),
        json!({ "type": "delete", "channel": name, "id": 1 }),
        json!({ "type": "react", "channel": name, "id": 1, "emoji": "👀", "add": true }),
        json!({ "type": "typing", "channel": name }),
        json!({ "type": "read", "channel": name, "seq": 1 }),
    ] {
        c.send_json(frame.clone()).await;
        let err = c.until("error").await;
        assert_eq!(err["code"], "unknown_channel", "{frame} -> {err}");
    }
    let history = carol
        .post("channel_history", json!({ "channel": name }))
        .await;
    assert_eq!(history.status(), 404);
    let anonymous = server
        .anonymous()
        .post("channel_history", json!({ "channel": name }))
        .await;
    assert_eq!(anonymous.status(), 404);
    let channels: Value = carol
        .post("list_channels", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(channels.as_array().unwrap().len(), 1, "{channels}");
    assert_eq!(
        carol
            .post("list_conversations", json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );
    assert_eq!(
        carol
            .post("unread", json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );
    c_lobby.send_json(json!({ "type": "ping" })).await;
    loop {
        let frame = c_lobby.next_json().await;
        assert_ne!(
            frame["type"], "channel_created",
            "conversations are not announced: {frame}"
        );
        if frame["type"] == "pong" {
            break;
        }
    }
    // Nor can anyone make a channel that looks like a conversation.
    let fake = carol.create_channel("DM:anything").await;
    assert_eq!(fake.status(), 400);
    let nobody = alice
        .post("open_conversation", json!({ "with": "nobody" }))
        .await;
    assert_eq!(nobody.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn starting_conversations_is_rate_limited_and_capped_per_user() {
    let server = TestServer::start_with(|c| {
        c.conversation_rate = 1;
        c.conversation_burst = 2;
        c.max_conversations = 3;
    })
    .await;
    let alice = server.user("alice").await;
    for name in ["b1", "b2", "b3", "b4", "b5"] {
        server.user(name).await;
    }
    let open = |with: &'static str| alice.post("open_conversation", json!({ "with": with }));
    assert_eq!(open("b1").await.status(), 200);
    assert_eq!(open("b2").await.status(), 200);
    let throttled = open("b3").await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("starting conversations"));
    // Opening one already started is free.
    assert_eq!(open("b1").await.status(), 200);
    assert_eq!(
        alice
            .post("list_conversations", json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    server.stop().await;

    let server = TestServer::start_with(|c| c.max_conversations = 2).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    for name in ["b1", "b2", "b3"] {
        server.user(name).await;
    }
    let open = |with: &'static str| alice.post("open_conversation", json!({ "with": with }));
    assert_eq!(open("b1").await.status(), 200);
    assert_eq!(open("b2").await.status(), 200);
    let capped = open("b3").await;
    assert_eq!(capped.status(), 403);
    let body: Value = capped.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded");
    assert_eq!(
        body["message"],
        "you have started 2 private conversations, the most one person may"
    );
    assert_eq!(open("b2").await.status(), 200, "an open one still opens");
    // The cap is on what one starts: others can still start one with her.
    let from_bob = bob
        .post("open_conversation", json!({ "with": "alice" }))
        .await;
    assert_eq!(from_bob.status(), 200);
    server.stop().await;
}
