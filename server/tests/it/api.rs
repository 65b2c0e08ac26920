//! The HTTP half of the wire contract, against the real server.

use crate::common::TestServer;
use serde_json::json;

#[tokio::test]
async fn registering_returns_the_user_and_sets_an_http_only_session_cookie() {
    let server = TestServer::start().await;
    let mut client = server.anonymous();
    let response = client.register("alice").await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("flack_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["display_name"], "alice");
    assert!(body["user_id"].as_str().is_some_and(|id| !id.is_empty()));

    let me: serde_json::Value = client.post("me", json!({})).await.json().await.unwrap();
    assert_eq!(me["display_name"], "alice");
    server.stop().await;
}

#[tokio::test]
async fn a_display_name_taken_in_any_case_is_refused_with_a_reason() {
    let server = TestServer::start().await;
    server.user("Alice").await;
    let mut other = server.anonymous();
    let response = other.register("aLiCe").await;
    assert_eq!(response.status(), 409);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "name_taken");
    assert!(
        body["message"].as_str().unwrap().contains("taken"),
        "{body}"
    );
    assert!(other.cookie.is_none());
    server.stop().await;
}

#[tokio::test]
async fn invalid_display_names_are_refused_with_the_rule_they_break() {
    let server = TestServer::start().await;
    let cases = [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (&*"x".repeat(33), "the limit is 32"),
        (&*"y".repeat(10_000), "the limit is 32"),
        ("bad\u{7}name", "control characters"),
        ("ad\u{202E}nim", "text-direction"),
    ];
    for (name, reason) in cases {
        let response = server.anonymous().register(name).await;
        assert_eq!(response.status(), 400, "{name:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_input");
        assert!(
            body["message"].as_str().unwrap().contains(reason),
            "{name:?}: {body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_request_bodies_are_client_errors_not_server_errors() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    for body in [
        "{",
        "{}",
        r#"{"display_name": 42}"#,
        "[]",
        r#"{"nope": "x"}"#,
    ] {
        let response = client.post_raw("register", body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!((400..500).contains(&status), "{body}: {status} {text}");
        assert!(!text.is_empty(), "{body}: the refusal says why");
    }
    server.stop().await;
}

#[tokio::test]
async fn creating_a_channel_requires_a_session() {
    let server = TestServer::start().await;
    let response = server.anonymous().create_channel("general").await;
    assert_eq!(response.status(), 401);
    assert!(server.anonymous().channels().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn channel_names_that_clash_ignoring_case_are_refused_and_nothing_is_created() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let created = alice.create_channel("General").await;
    assert_eq!(created.status(), 200);
    let channel: serde_json::Value = created.json().await.unwrap();
    assert_eq!(channel["name"], "General");
    assert_eq!(channel["created_by"], "alice");

    for clash in ["general", "GENERAL", " General ", "ｇｅｎｅｒａｌ"] {
        let response = alice.create_channel(clash).await;
        assert_eq!(response.status(), 409, "{clash}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "channel_exists");
        assert!(body["message"].as_str().unwrap().contains("already exists"));
    }
    assert_eq!(alice.channels().await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn invalid_channel_names_are_refused_with_the_rule_they_break() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    for (name, reason) in [
        ("", "must not be empty"),
        ("a/b", "'/'"),
        (&*"c".repeat(81), "the limit is 80"),
        ("tab\there", "control characters"),
    ] {
        let response = alice.create_channel(name).await;
        assert_eq!(response.status(), 400, "{name:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains(reason),
            "{name:?}: {body}"
        );
    }
    assert!(alice.channels().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn unicode_and_emoji_channel_names_work() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    for name in ["café ☕", "🦀 rustaceans", "日本語"] {
        assert_eq!(alice.create_channel(name).await.status(), 200, "{name}");
    }
    let names: Vec<_> = alice
        .channels()
        .await
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["café ☕", "🦀 rustaceans", "日本語"]);
    server.stop().await;
}

#[tokio::test]
async fn the_history_of_an_unknown_channel_is_a_404() {
    let server = TestServer::start().await;
    let response = server
        .anonymous()
        .post("channel_history", json!({ "channel": "nowhere" }))
        .await;
    assert_eq!(response.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn pages_are_rendered_on_the_server_with_what_the_server_knows() {
    let server = TestServer::start().await;
    let home = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Display name"), "first visit asks for a name");

    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut ws = alice.connect().await;
    ws.send_message("general", "c1", "<script>alert(1)</script> hello")
        .await;
    ws.until("ack").await;

    let page = alice
        .http
        .get(server.url("/c/general"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("alice"), "the signed-in user is shown");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; hello"),
        "bodies are escaped text"
    );
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains(r#"role="log""#));
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_path_is_a_404_and_an_unknown_channel_says_so() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/no/such/page")).await.unwrap();
    assert_eq!(response.status(), 404);
    let alice = server.user("alice").await;
    let response = alice
        .http
        .get(server.url("/c/nowhere"))
        .send()
        .await
        .unwrap();
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("there is no channel named"));
    server.stop().await;
}
