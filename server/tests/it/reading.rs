//! Unread counts against the real server: read positions per user and
//! channel, kept in the server (and in the data dir), so every tab and
//! every reload agrees.

use crate::common::{Client, TestServer};
use serde_json::{json, Value};

async fn unread(client: &Client) -> Value {
    let response = client.post("unread", json!({})).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn unread_counts_follow_read_positions_and_mentions() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let with_dir = |config: &mut server::Config| config.data_dir = Some(data_dir.clone());
    let server = TestServer::start_with(with_dir).await;
    let alice = server.user("alice").await;
    let mut bob = server.anonymous();
    bob.register("bob").await;
    alice.create_channel("general").await;
    alice.create_channel("random").await;
    let mut a = alice.connect().await;
    for (id, body) in [("m1", "one"), ("m2", "two, @bob"), ("m3", "three")] {
        a.send_message("random", id, body).await;
        a.until("ack").await;
    }
    assert_eq!(
        unread(&bob).await,
        json!([{ "channel": "random", "unread": 3, "mentions": 1, "last_read": 0 }])
    );
    assert_eq!(
        unread(&alice).await,
        json!([]),
        "your own messages are read"
    );
    let late = server.user("carol").await;
    assert_eq!(
        unread(&late).await,
        json!([]),
        "nothing from before you joined"
    );

    let mut b = bob.connect().await;
    b.send_json(json!({ "type": "read", "channel": "random", "seq": 2 }))
        .await;
    b.send_json(json!({ "type": "read", "channel": "random", "seq": 1 }))
        .await;
    b.send_json(json!({ "type": "ping" })).await;
    b.until("pong").await;
    // Two tabs (or a reload) ask the server and agree.
    assert_eq!(
        unread(&bob).await,
        json!([{ "channel": "random", "unread": 1, "mentions": 0, "last_read": 2 }])
    );
    b.send_json(json!({ "type": "read", "channel": "random", "seq": 999 }))
        .await;
    b.send_json(json!({ "type": "read", "channel": "nowhere", "seq": 1 }))
        .await;
    assert_eq!(b.until("error").await["code"], "unknown_channel");
    assert_eq!(unread(&bob).await, json!([]));
    a.send_message("random", "m4", "four").await;
    a.until("ack").await;
    let after_restart_expected =
        json!([{ "channel": "random", "unread": 1, "mentions": 0, "last_read": 3 }]);
    assert_eq!(
        unread(&bob).await,
        after_restart_expected,
        "a read past the head stops at it"
    );
    assert_eq!(
        server.anonymous().post("unread", json!({})).await.status(),
        401
    );
    drop((a, b));
    server.stop().await;

    let server = TestServer::start_with(with_dir).await;
    let bob = Client::with_cookie(server.addr, bob.cookie.as_deref().unwrap());
    assert_eq!(
        unread(&bob).await,
        after_restart_expected,
        "read positions survive a restart"
    );
    server.stop().await;
}
