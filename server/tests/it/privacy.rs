//! Private conversations against the real server, through every door and
//! every spelling of their name: a third user and someone without a
//! session get nothing, learn nothing and change nothing.

use crate::common::{Client, RedisServer, TestServer, Ws};
use serde_json::{json, Value};

/// Every way of writing `name` (a conversation's `dm:<id>:<id>`) that
/// normalizes to the same channel key: case, width, and both at once.
fn spellings(name: &str) -> Vec<String> {
    let fullwidth = |c: char| match c {
        '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
        other => other,
    };
    let rest = name.strip_prefix("dm:").expect("a conversation name");
    vec![
        name.to_owned(),
        name.to_uppercase(),
        format!("DM:{rest}"),
        format!("Dm:{}", rest.to_uppercase()),
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        format!("ｄｍ:{rest}"),
        format!("dm：{}", rest.replacen(':', "：", 1)),
        name.chars().map(fullwidth).collect(),
        name.to_uppercase().chars().map(fullwidth).collect(),
    ]
}

fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Alice and Bob's conversation with one message and one attachment in it:
/// `(name, attachment path)`.
async fn a_private_conversation(alice: &Client, a: &mut Ws, b: &mut Ws) -> (String, String) {
    let opened = alice
        .post("open_conversation", json!({ "with": "bob" }))
        .await;
    assert_eq!(opened.status(), 200);
    let name = opened.json::<Value>().await.unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let file: Value = alice
        .upload("plan.txt", b"the secret plan, attached".to_vec())
        .await
        .json()
        .await
        .unwrap();
    let url = format!(
        "/files/{}/plan.txt",
        file["id"].as_str().expect("an attachment id")
    );
    a.join(&name, None).await;
    b.join(&name, None).await;
    a.send_json(json!({
        "type": "send", "channel": name, "client_id": "secret-1",
        "body": "the secret plan", "attachments": [file["id"]],
    }))
    .await;
    let (mut acked, mut shown) = (false, false);
    while !(acked && shown) {
        let frame = a.next_json().await;
        acked |= frame["type"] == "ack" && frame["seq"] == 1;
        shown |= frame["type"] == "message" && frame["seq"] == 1;
    }
    assert_eq!(b.until("message").await["body"], "the secret plan");
    assert_eq!(alice.get(&url).await.status(), 200, "its own can fetch it");
    (name, url)
}

/// What must not change, as Alice sees it.
async fn alice_sees(alice: &Client, name: &str) -> Value {
    alice.history(name).await
}

#[tokio::test]
async fn a_conversation_is_closed_to_a_third_user_and_to_nobody_through_every_door() {
    let server = TestServer::start().await;
    every_door_stays_closed(&server, &server).await;
    server.stop().await;
}

/// With Redis, the conversation made on one server and the third user on
/// another: what Redis carries between them opens no door either.
#[tokio::test]
async fn a_conversation_made_on_one_server_is_closed_on_another() {
    let redis = RedisServer::start();
    let on = |redis: &RedisServer| {
        let url = redis.url();
        TestServer::start_with(move |config| config.redis_url = Some(url))
    };
    let (theirs, other) = (on(&redis).await, on(&redis).await);
    every_door_stays_closed(&theirs, &other).await;
    theirs.stop().await;
    other.stop().await;
}

/// Alice and Bob talk privately on `theirs`; Carol and nobody try every
/// door with every spelling on `other`.
async fn every_door_stays_closed(theirs: &TestServer, other: &TestServer) {
    let alice = theirs.user("alice").await;
    let bob = theirs.user("bob").await;
    let carol = other.user("carol").await;
    let nobody = other.anonymous();
    let (mut a, mut b) = (alice.connect().await, bob.connect().await);
    let (name, file) = a_private_conversation(&alice, &mut a, &mut b).await;
    let before = alice_sees(&alice, &name).await;
    // Carol's server has applied all of it once it announces what came
    // next (with Redis, every server applies one log in order).
    let mut c = carol.connect().await;
    assert_eq!(alice.create_channel("afterwards").await.status(), 200);
    while c.until("channel_created").await["channel"]["name"] != "afterwards" {}

    for spelling in spellings(&name) {
        for (who, client) in [("carol", &carol), ("nobody", &nobody)] {
            let history = client
                .post("channel_history", json!({ "channel": spelling }))
                .await;
            assert_eq!(history.status(), 404, "{who}: history of {spelling}");
            let text = history.text().await.unwrap();
            assert!(!text.contains("secret"), "{who}: {text}");
            let segment = path_segment(&spelling);
            for path in [
                format!("/c/{segment}"),
                format!("/c/{segment}/1"),
                format!("/c/{segment}/1?thread=1"),
            ] {
                let html = client.get(&path).await.text().await.unwrap();
                assert!(!html.contains("secret"), "{who}: the page {path}");
                assert!(!html.contains("plan.txt"), "{who}: the page {path}");
            }
            let topic = client
                .post(
                    "set_topic",
                    json!({ "channel": spelling, "topic": "mine now" }),
                )
                .await;
            let expected = if who == "nobody" { 401 } else { 404 };
            assert_eq!(topic.status(), expected, "{who}: set_topic of {spelling}");
            for query in [
                format!("in:#{spelling} secret"),
                "secret".to_owned(),
                "plan".to_owned(),
            ] {
                let found = client.post("search", json!({ "query": query })).await;
                let status = found.status().as_u16();
                let text = found.text().await.unwrap();
                assert!(
                    status == 200 || status == 401,
                    "{who}: search {query}: {status}"
                );
                assert!(!text.contains("secret"), "{who}: search {query}: {text}");
            }
        }
    }
    assert_eq!(
        carol.get(&file).await.status(),
        404,
        "a leaked link is no key"
    );
    assert_eq!(nobody.get(&file).await.status(), 401);
    let carol_dm = carol.get("/dm/alice").await.text().await.unwrap();
    assert!(
        !carol_dm.contains("secret"),
        "carol's own /dm/alice is not theirs"
    );
    for (who, client) in [("carol", &carol), ("nobody", &nobody)] {
        let unread = client.post("unread", json!({})).await;
        let unread = unread.text().await.unwrap();
        assert!(!unread.contains("dm:"), "{who}: {unread}");
        let listed = client.post("list_conversations", json!({})).await;
        let listed = listed.text().await.unwrap();
        assert!(!listed.contains("dm:"), "{who}: {listed}");
        let channels = client.post("list_channels", json!({})).await;
        let channels = channels.text().await.unwrap();
        assert!(!channels.contains("dm:"), "{who}: {channels}");
    }
    assert_eq!(
        nobody.try_connect(None).await.err().map(|e| e.to_string()),
        Some("HTTP error: 401 Unauthorized".to_owned()),
        "nobody gets no socket to try the frames with"
    );

    // Carol, every frame, every spelling: the same answer as for a
    // channel that does not exist, and nothing reaches Alice or Bob.
    for (n, spelling) in spellings(&name).into_iter().enumerate() {
        for frame in [
            json!({ "type": "join", "channel": spelling }),
            json!({ "type": "join", "channel": spelling, "after": 0 }),
            json!({ "type": "send", "channel": spelling, "client_id": format!("c-{n}"), "body": "let me in" }),
            json!({ "type": "send", "channel": spelling, "client_id": format!("r-{n}"), "body": "in the thread",
                    "reply_to": { "root": 1 } }),
            json!({ "type": "edit", "channel": spelling, "id": 1, "body": "mine now" }),
            json!({ "type": "delete", "channel": spelling, "id": 1 }),
            json!({ "type": "react", "channel": spelling, "id": 1, "emoji": "👀", "add": true }),
            json!({ "type": "typing", "channel": spelling }),
            json!({ "type": "read", "channel": spelling, "seq": 1 }),
        ] {
            c.send_json(frame.clone()).await;
            let err = c.until("error").await;
            assert_eq!(err["code"], "unknown_channel", "{frame} -> {err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        // A thread opens only in the channel one views, which Carol cannot.
        c.send_json(json!({ "type": "thread", "channel": spelling, "root": 1 }))
            .await;
        let err = c.until("error").await;
        assert_eq!(err["code"], "invalid_frame", "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
    for (ws, who) in [(&mut a, "alice"), (&mut b, "bob")] {
        ws.send_json(json!({ "type": "ping" })).await;
        loop {
            let frame = ws.next_json().await;
            assert!(
                !matches!(
                    frame["type"].as_str(),
                    Some(
                        "typing"
                            | "message"
                            | "edited"
                            | "deleted"
                            | "reactions"
                            | "reply"
                            | "topic"
                    )
                ),
                "{who} heard from carol: {frame}"
            );
            if frame["type"] == "pong" {
                break;
            }
        }
    }
    assert_eq!(alice_sees(&alice, &name).await, before, "nothing changed");
    assert_eq!(
        bob.history(&name.to_uppercase()).await,
        before,
        "bob, any spelling"
    );
}

#[tokio::test]
async fn a_retried_client_id_is_acknowledged_only_for_the_channel_it_went_to() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    server.user("carol").await;
    alice.create_channel("general").await;
    alice.create_channel("random").await;
    let theirs: Value = bob
        .post("open_conversation", json!({ "with": "carol" }))
        .await
        .json()
        .await
        .unwrap();
    let theirs = theirs["name"].as_str().unwrap().to_owned();
    let mut a = alice.connect().await;
    a.send_message("general", "once", "hello").await;
    assert_eq!(a.until("ack").await["seq"], 1);

    for spelling in spellings(&theirs) {
        a.send_message(&spelling, "once", "hello").await;
        let refused = a.next_json().await;
        assert_eq!(refused["type"], "error", "{spelling}: {refused}");
        assert_eq!(refused["code"], "unknown_channel", "{refused}");
        assert_eq!(refused["client_id"], "once");
    }
    a.send_message("random", "once", "hello").await;
    let refused = a.next_json().await;
    assert_eq!(refused["code"], "client_id_reused", "{refused}");
    a.send_message("GENERAL", "once", "hello").await;
    let again = a.next_json().await;
    assert_eq!(
        (&again["type"], &again["seq"]),
        (&json!("ack"), &json!(1)),
        "{again}"
    );
    assert_eq!(alice.history("random").await["messages"], json!([]));
    assert_eq!(bob.history(&theirs).await["head"], 0);
    server.stop().await;
}

#[tokio::test]
async fn visiting_a_conversation_page_starts_nothing() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let carol = server.user("carol").await;
    let page = carol.get("/dm/alice").await;
    assert_eq!(page.status(), 200);
    assert_eq!(listed(&alice).await, json!([]), "a GET opened nothing");
    assert_eq!(listed(&carol).await, json!([]));
    let found = carol
        .post("find_conversation", json!({ "with": "alice" }))
        .await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.json::<Value>().await.unwrap(), Value::Null);
    // The visitor's own same-origin POST opens it.
    let opened = carol
        .post("open_conversation", json!({ "with": "alice" }))
        .await;
    assert_eq!(opened.status(), 200);
    assert_eq!(listed(&alice).await.as_array().unwrap().len(), 1);
    server.stop().await;
}

async fn listed(client: &Client) -> Value {
    let response = client.post("list_conversations", json!({})).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}
