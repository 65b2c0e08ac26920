//! Search against the real server (in every storage mode the suite runs
//! in): words, phrases and filters, ignoring case and accents, newest
//! first with the matched words marked, threads and attachment names
//! included, and never another pair's private conversation.

use crate::common::{Client, TestServer, Ws};
use serde_json::{json, Value};

async fn send(ws: &mut Ws, channel: &str, client_id: &str, body: &str, extra: Value) -> u64 {
    let mut frame =
        json!({ "type": "send", "channel": channel, "client_id": client_id, "body": body });
    if let (Some(frame), Some(extra)) = (frame.as_object_mut(), extra.as_object()) {
        frame.extend(extra.clone());
    }
    ws.send_json(frame).await;
    loop {
        let frame = ws.next_json().await;
        match frame["type"].as_str() {
            Some("ack") => {
                // Results are newest first by time, which is kept to the
                // millisecond: no two of these share one.
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                return frame["seq"].as_u64().unwrap();
            }
            Some("error") => panic!("send refused: {frame}"),
            _ => {}
        }
    }
}

async fn search(client: &Client, query: &str) -> Vec<Value> {
    let response = client.post("search", json!({ "query": query })).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

/// The bodies of the hits, in order.
fn bodies(hits: &[Value]) -> Vec<String> {
    (hits.iter())
        .map(|h| h["message"]["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_what_a_user_may_see_ignoring_case_and_accents_newest_first() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    alice.create_channel("random").await;
    let carol = server.user("carol").await;
    let dave = server.user("dave").await;
    let ours = alice.open_conversation("bob").await;
    let theirs = carol.open_conversation("dave").await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    let mut c = carol.connect().await;
    let root = send(
        &mut a,
        "general",
        "a1",
        "Meet at the Café at noon",
        json!({}),
    )
    .await;
    send(
        &mut b,
        "general",
        "b1",
        "CAFE closed today, sorry",
        json!({}),
    )
    .await;
    send(&mut a, "random", "a2", "cafés everywhere", json!({})).await;
    let reply_to = json!({ "reply_to": { "root": root } });
    send(&mut b, "general", "b2", "thread about the cafe", reply_to).await;
    send(&mut a, &ours, "a3", "our secret cafe plan", json!({})).await;
    send(&mut c, &theirs, "c1", "carol's secret cafe", json!({})).await;
    drop(dave);

    let hits = search(&alice, "cafe").await;
    assert_eq!(
        bodies(&hits),
        [
            "our secret cafe plan",
            "thread about the cafe",
            "cafés everywhere",
            "CAFE closed today, sorry",
            "Meet at the Café at noon"
        ],
        "newest first, threads and her own conversation included, nobody else's"
    );
    assert_eq!(hits[1]["message"]["reply_to"]["root"], root);
    let first = &hits[4];
    let body = first["message"]["body"].as_str().unwrap();
    let [start, end] = [
        first["marks"][0][0].as_u64().unwrap(),
        first["marks"][0][1].as_u64().unwrap(),
    ];
    assert_eq!(&body[start as usize..end as usize], "Café");

    assert_eq!(
        bodies(&search(&alice, "\"at noon\"").await),
        ["Meet at the Café at noon"]
    );
    assert_eq!(
        bodies(&search(&alice, "\"noon at\"").await),
        Vec::<String>::new()
    );
    assert_eq!(
        bodies(&search(&alice, "cafe in:#RANDOM").await),
        ["cafés everywhere"]
    );
    assert_eq!(bodies(&search(&alice, "from:@BOB cafe").await).len(), 2);
    assert_eq!(
        bodies(&search(&alice, "in:@bob").await),
        ["our secret cafe plan"]
    );
    assert_eq!(
        bodies(&search(&alice, "no such words").await),
        Vec::<String>::new()
    );

    // Nobody else's private conversation, however it is asked for.
    let upper = theirs.to_uppercase();
    let (by_name, by_upper) = (
        format!("in:#{theirs} secret"),
        format!("in:#{upper} secret"),
    );
    for query in ["secret", "carol", "in:@dave secret", &by_name, &by_upper] {
        for who in [&alice, &bob] {
            let hits = search(who, query).await;
            let leaked = hits
                .iter()
                .any(|h| h["message"]["channel"] == theirs.as_str());
            assert!(!leaked, "{query}: {hits:?}");
        }
    }
    assert_eq!(
        bodies(&search(&bob, "secret").await),
        ["our secret cafe plan"]
    );
    assert_eq!(
        bodies(&search(&carol, "secret").await),
        ["carol's secret cafe"]
    );
    server.stop().await;
}

#[tokio::test]
async fn attachment_names_are_searched() {
    let server = TestServer::start().await;
    let (alice, _bob) = server.alice_and_bob_in_general().await;
    let response = alice
        .upload("Quarterly-Résumé.pdf", b"%PDF-1.4 ...".to_vec())
        .await;
    assert_eq!(response.status(), 200);
    let file: Value = response.json().await.unwrap();
    let mut a = alice.connect().await;
    send(
        &mut a,
        "general",
        "f",
        "here it is",
        json!({ "attachments": [file["id"]] }),
    )
    .await;
    let hits = search(&alice, "resume").await;
    assert_eq!(bodies(&hits), ["here it is"]);
    assert!(
        hits[0].get("marks").is_none(),
        "nothing in the body to mark"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_search_needs_a_session_a_sane_query_and_a_sane_pace() {
    let server = TestServer::start_with(|config| {
        config.search_rate = 1;
        config.search_burst = 2;
    })
    .await;
    let alice = server.user("alice").await;
    let nobody = server.anonymous();
    assert_eq!(
        nobody
            .post("search", json!({ "query": "x" }))
            .await
            .status(),
        401
    );
    for bad in ["", "   ", &"x".repeat(201), "a\u{7}b"] {
        let response = alice.post("search", json!({ "query": bad })).await;
        assert_eq!(response.status(), 400, "{bad:?}");
    }
    assert_eq!(
        alice.post("search", json!({ "query": "x" })).await.status(),
        200
    );
    assert_eq!(
        alice.post("search", json!({ "query": "x" })).await.status(),
        200
    );
    let third = alice.post("search", json!({ "query": "x" })).await;
    assert_eq!(third.status(), 429);
    server.stop().await;
}
