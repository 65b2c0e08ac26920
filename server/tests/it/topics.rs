//! Channel topics against the real server: set by any member, live for
//! every viewer as an event with its `seq`, replayed on resume, listed,
//! behind the same door as the channel, and kept by every log (a data dir
//! across a restart; Redis after the events that set it were trimmed).

use crate::common::{Client, RedisServer, TestServer};
use serde_json::{json, Value};

async fn set_topic(client: &Client, channel: &str, topic: &str) -> reqwest::Response {
    client
        .post("set_topic", json!({ "channel": channel, "topic": topic }))
        .await
}

async fn topic_of(client: &Client, channel: &str) -> Value {
    client.history(channel).await["channel"]["topic"].clone()
}

#[tokio::test]
async fn a_member_sets_a_topic_live_for_viewers_and_in_the_listing() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut b = bob.connect().await;
    let (_, joined) = b.join("general", None).await;
    let before = joined["head"].as_u64().unwrap();

    let response = set_topic(&alice, "general", "Ship **Friday**, ask @bob").await;
    assert_eq!(response.status(), 200);
    let channel: Value = response.json().await.unwrap();
    assert_eq!(channel["topic"]["text"], "Ship **Friday**, ask @bob");

    let frame = b.until("topic").await;
    assert_eq!(frame["channel"], "general");
    assert_eq!(frame["by"], "alice");
    assert_eq!(
        frame["seq"].as_u64().unwrap(),
        before + 1,
        "an event in seq order"
    );
    assert_eq!(
        frame["topic"]["html"],
        r#"Ship <strong>Friday</strong>, ask <span class="mention">@bob</span>"#
    );
    assert_eq!(frame["topic"]["set_by"], "alice");
    assert_eq!(
        topic_of(&bob, "general").await["text"],
        "Ship **Friday**, ask @bob"
    );
    let listed = bob.channels().await;
    assert_eq!(listed[0]["topic"]["text"], "Ship **Friday**, ask @bob");

    // A resume from before the topic replays it; one from after does not.
    let mut again = bob.connect().await;
    let (backlog, _) = again.join("general", Some(before)).await;
    assert!(backlog.iter().any(|f| f["type"] == "topic"), "{backlog:?}");
    let (backlog, _) = again.join("general", Some(before + 1)).await;
    assert!(backlog.is_empty(), "{backlog:?}");

    // Blank clears it, for everyone.
    assert_eq!(set_topic(&bob, "general", "  ").await.status(), 200);
    let cleared = b.until("topic").await;
    assert_eq!(cleared["topic"], Value::Null);
    assert_eq!(cleared["by"], "bob");
    assert_eq!(topic_of(&alice, "general").await, Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_topic_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    assert_eq!(set_topic(&alice, "general", "kept").await.status(), 200);
    for bad in [
        "x".repeat(251),
        "two\nlines".into(),
        "bidi \u{202e}txet".into(),
    ] {
        let response = set_topic(&alice, "general", &bad).await;
        assert_eq!(response.status(), 400, "{bad:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_input");
    }
    assert_eq!(
        set_topic(&alice, "general", &"y".repeat(250))
            .await
            .status(),
        200
    );
    assert_eq!(topic_of(&alice, "general").await["text"], "y".repeat(250));
    let response = set_topic(&alice, "nowhere", "x").await;
    assert_eq!(response.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn only_its_two_members_set_a_conversations_topic() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let carol = server.user("carol").await;
    let name = alice.open_conversation("bob").await;
    assert_eq!(set_topic(&alice, &name, "ours").await.status(), 200);
    let upper = name.to_uppercase();
    for (who, channel) in [
        (&carol, &name),
        (&carol, &upper),
        (&server.anonymous(), &name),
    ] {
        let status = set_topic(who, channel, "mine now").await.status();
        assert!(status == 404 || status == 401, "{channel}: {status}");
    }
    assert_eq!(topic_of(&alice, &name).await["text"], "ours");
    server.stop().await;
}

#[tokio::test]
async fn with_a_data_dir_a_topic_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let with_dir = |config: &mut server::Config| config.data_dir = Some(data_dir.clone());
    let server = TestServer::start_with(with_dir).await;
    let (alice, _) = server.alice_and_bob_in_general().await;
    assert_eq!(
        set_topic(&alice, "general", "*durable*").await.status(),
        200
    );
    server.stop().await;

    let server = TestServer::start_with(with_dir).await;
    let reader = server.user("reader").await;
    let topic = topic_of(&reader, "general").await;
    assert_eq!(topic["text"], "*durable*");
    assert_eq!(topic["html"], "<em>durable</em>");
    server.stop().await;
}

#[tokio::test]
async fn on_redis_a_topic_outlives_the_events_trimmed_after_it() {
    let redis = RedisServer::start();
    let url = redis.url();
    let on_redis = move |config: &mut server::Config| config.redis_url = Some(url.clone());
    let first = TestServer::start_with(on_redis.clone()).await;
    let (alice, _) = first.alice_and_bob_in_general().await;
    assert_eq!(
        set_topic(&alice, "general", "kept apart").await.status(),
        200
    );
    let mut a = alice.connect().await;
    a.join("general", None).await;
    // More than the window: the event that set the topic is trimmed.
    for i in 0..105 {
        a.send_message("general", &format!("c{i}"), "filler").await;
        a.until("ack").await;
    }
    let second = TestServer::start_with(on_redis).await;
    let reader = second.user("reader").await;
    assert_eq!(topic_of(&reader, "general").await["text"], "kept apart");
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn a_reset_carries_the_topic_its_trimmed_event_set() {
    let server = TestServer::start_with(|config| config.event_log = 5).await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut b = bob.connect().await;
    let (_, joined) = b.join("general", None).await;
    let left_at = joined["head"].as_u64().unwrap();
    drop(b);
    assert_eq!(
        set_topic(&alice, "general", "set while away")
            .await
            .status(),
        200
    );
    let mut a = alice.connect().await;
    for i in 0..10 {
        a.send_message("general", &format!("c{i}"), "more").await;
        a.until("ack").await;
    }
    let mut b = bob.connect().await;
    let (backlog, _) = b.join("general", Some(left_at)).await;
    assert_eq!(backlog[0]["type"], "reset");
    assert_eq!(backlog[0]["topic"]["text"], "set while away");
    server.stop().await;
}
