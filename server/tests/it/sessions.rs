//! Sessions against the real server: signing out (this browser, or
//! everywhere) ends the session and closes its sockets at once; an unused
//! session ends by itself; a secure cookie is `__Host-` bound.

use crate::common::{Client, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

async fn me(client: &Client) -> Value {
    client.post("me", json!({})).await.json().await.unwrap()
}

#[tokio::test]
async fn signing_out_ends_the_session_and_closes_its_sockets_at_once() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut tab = alice.connect().await;
    let mut bobs = bob.connect().await;

    let out = alice.post("sign_out", json!({})).await;
    assert_eq!(out.status(), 200);
    let cleared = out.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cleared.starts_with("flack_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(tab.ending().await.code(), Some(4001), "signed out");
    // The old cookie proves nothing any more, anywhere.
    let old = Client::with_cookie(server.addr, alice.cookie.as_deref().unwrap());
    assert_eq!(me(&old).await, Value::Null);
    assert!(old.try_connect(None).await.is_err(), "no socket with it");
    assert_eq!(old.create_channel("mine").await.status(), 401);
    // Others go on; the name stays with its user (Flack has no passwords:
    // a freed name would let anyone take over its messages).
    bobs.send_json(json!({ "type": "ping" })).await;
    assert_eq!(bobs.until("pong").await["type"], "pong");
    assert_eq!(server.anonymous().register("alice").await.status(), 409);
    server.stop().await;
}

#[tokio::test]
async fn signing_out_everywhere_closes_every_socket_of_that_user_only() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let elsewhere = Client::with_cookie(server.addr, alice.cookie.as_deref().unwrap());
    let (mut one, mut two) = (alice.connect().await, elsewhere.connect().await);
    let mut bobs = bob.connect().await;
    let out = alice.post("sign_out_everywhere", json!({})).await;
    assert_eq!(out.status(), 200);
    assert_eq!(one.ending().await.code(), Some(4001));
    assert_eq!(two.ending().await.code(), Some(4001));
    assert_eq!(me(&elsewhere).await, Value::Null);
    bobs.send_json(json!({ "type": "ping" })).await;
    assert_eq!(bobs.until("pong").await["type"], "pong");
    assert_eq!(me(&bob).await["display_name"], "bob");
    server.stop().await;
}

/// `--session-idle-secs`: a session nobody uses ends by itself; one in use
/// (a request now and then, or an open socket) does not.
#[tokio::test]
async fn an_unused_session_ends_and_one_in_use_does_not() {
    let server = TestServer::start_with(|c| c.session_idle_secs = 1).await;
    let idle = server.user("idle").await;
    let busy = server.user("busy").await;
    let connected = server.user("connected").await;
    let mut socket = connected.connect().await;
    // Busy asks now and then (at a person's pace, if a quick one) while
    // idle's session ages past the setting untouched.
    for _ in 0..8 {
        assert_eq!(
            me(&busy).await["display_name"],
            "busy",
            "a used session stays"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(me(&idle).await, Value::Null, "the unused one ended");
    assert_eq!(idle.create_channel("mine").await.status(), 401);
    assert_eq!(me(&busy).await["display_name"], "busy");
    // Ended by the sweep, the socket would have closed; it is in use.
    socket.send_json(json!({ "type": "ping" })).await;
    assert_eq!(socket.until("pong").await["type"], "pong");
    assert_eq!(me(&connected).await["display_name"], "connected");
    server.stop().await;
}

#[tokio::test]
async fn a_secure_cookie_is_host_prefixed_and_a_plain_one_moves_to_it() {
    let server = TestServer::start_with(|c| c.secure_cookies = true).await;
    let response = server.anonymous().register("alice").await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-flack_session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
    let token = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, token)| token.to_owned())
        .unwrap();
    // A cookie set before the prefix was used still works, and moves.
    let legacy = Client::with_cookie(server.addr, &format!("flack_session={token}"));
    let answer = legacy.post("me", json!({})).await;
    let moved: Vec<String> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        answer.json::<Value>().await.unwrap()["display_name"],
        "alice"
    );
    assert!(
        moved[0].starts_with(&format!("__Host-flack_session={token}")),
        "{moved:?}"
    );
    assert!(moved[1].starts_with("flack_session=;"), "{moved:?}");
    // Signing out removes both names.
    let both = Client::with_cookie(server.addr, &format!("__Host-flack_session={token}"));
    let out = both.post("sign_out", json!({})).await;
    let removed: Vec<String> = out
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(removed.iter().all(|c| c.contains("Max-Age=0")));
    server.stop().await;
}

/// Who is online is about people: it takes a session to ask, so whoever
/// watches shows up in the list too.
#[tokio::test]
async fn the_people_list_needs_a_session() {
    let server = TestServer::start().await;
    server.user("alice").await;
    for endpoint in ["people", "list_users"] {
        let response = server.anonymous().post(endpoint, json!({})).await;
        assert_eq!(response.status(), 401, "{endpoint}");
    }
    server.stop().await;
}
