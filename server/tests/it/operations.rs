//! What operators and load balancers rely on, against the real server:
//! `/healthz`, `/readyz` and the Prometheus metrics at `/metrics`, which
//! must follow what really happened on the server.

use crate::common::TestServer;

/// The value of the unlabelled sample `name` in a Prometheus exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

async fn metrics(server: &TestServer) -> String {
    let response = server.anonymous().get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_session() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let health = client.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready\n");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_connections_messages_deliveries_and_send_latency() {
    let server = TestServer::start().await;
    let before = metrics(&server).await;
    assert_eq!(sample(&before, "flack_connections"), 0.0);
    assert_eq!(sample(&before, "flack_messages_total"), 0.0);
    assert_eq!(sample(&before, "flack_redis_errors_total"), 0.0);

    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let mut sender = alice.connect().await;
    let mut viewer = bob.connect().await;
    sender.join("general", None).await;
    viewer.join("general", None).await;
    assert_eq!(sample(&metrics(&server).await, "flack_connections"), 2.0);

    sender.send_message("general", "m1", "hello").await;
    sender.until("ack").await;
    viewer.until("message").await;
    // A retry of the same client_id is acked again but stored once.
    sender.send_message("general", "m1", "hello").await;
    sender.until("ack").await;

    let after = metrics(&server).await;
    assert_eq!(sample(&after, "flack_messages_total"), 1.0);
    assert_eq!(sample(&after, "flack_send_latency_seconds_count"), 2.0);
    // The message went live to both viewers (the sender views too).
    assert_eq!(sample(&after, "flack_deliveries_total"), 2.0);

    drop(sender);
    drop(viewer);
    let mut open = 2.0;
    for _ in 0..100 {
        open = sample(&metrics(&server).await, "flack_connections");
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(open, 0.0, "connections fall back when sockets close");
    server.stop().await;
}

#[tokio::test]
async fn responses_are_compressed_for_clients_that_accept_it() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let plain = client.get("/").await;
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap().len();
    for encoding in ["br", "gzip"] {
        let response = client
            .http
            .get(server.url("/"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
        let compressed = response.bytes().await.unwrap().len();
        assert!(
            compressed < plain / 2,
            "{encoding}: {compressed} of {plain} bytes"
        );
    }
    server.stop().await;
}
