//! Several servers sharing one chat through a real `redis-server`
//! (`--redis-url`): they behave as one server does. Every message reaches
//! every viewer once and in order wherever sender and viewers are
//! connected; names and channels are unique across servers; a session and
//! a `client_id` mean the same everywhere; a new server starts from what
//! Redis holds.

use crate::common::{Client, RedisServer, TestServer, Ws};
use serde_json::{json, Value};
use std::collections::HashSet;

async fn server_on(redis: &RedisServer) -> TestServer {
    let url = redis.url();
    TestServer::start_with(move |config| config.redis_url = Some(url)).await
}

/// The `message` frames of the next `count` events, in arrival order.
async fn messages(ws: &mut Ws, count: usize) -> Vec<Value> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        let frame = ws.next_json().await;
        match frame["type"].as_str() {
            Some("message") => got.push(frame),
            Some("error") => panic!("unexpected error: {frame}"),
            _ => {}
        }
    }
    got
}

#[tokio::test]
async fn messages_from_one_server_reach_viewers_on_the_others_once_and_in_order() {
    let redis = RedisServer::start();
    let (a, b, c) = (
        server_on(&redis).await,
        server_on(&redis).await,
        server_on(&redis).await,
    );
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = c.user("carol").await;
    let mut on_b = bob.connect().await;
    let mut on_c = carol.connect().await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    // Made on A, known on B and C (and announced to their viewers).
    assert_eq!(
        on_b.until("channel_created").await["channel"]["name"],
        "general"
    );
    assert_eq!(
        on_c.until("channel_created").await["channel"]["name"],
        "general"
    );
    on_b.join("general", None).await;
    on_c.join("general", None).await;

    let mut sender = alice.connect().await;
    let count = 60;
    for i in 0..count {
        sender
            .send_message("general", &format!("m{i}"), &format!("hello {i}"))
            .await;
    }
    let mut acked = Vec::new();
    while acked.len() < count {
        let frame = sender.next_json().await;
        match frame["type"].as_str() {
            Some("ack") => acked.push(frame["seq"].as_u64().unwrap()),
            Some("error") => panic!("send refused: {frame}"),
            _ => {}
        }
    }
    let expected: Vec<u64> = (1..=count as u64).collect();
    assert_eq!(acked, expected, "acks carry the seqs Redis gave, in order");

    for viewer in [&mut on_b, &mut on_c] {
        let got = messages(viewer, count).await;
        let seqs: Vec<u64> = got.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, expected, "every message once, in order");
        assert_eq!(got[7]["body"], "hello 7");
        assert_eq!(got[7]["author"], "alice");
    }
    // Nothing more: no duplicates on the way.
    for viewer in [&mut on_b, &mut on_c] {
        viewer.send_json(json!({ "type": "ping" })).await;
        let next = viewer.next_json().await;
        assert_eq!(next["type"], "pong", "{next}");
    }

    // Every server holds the same history.
    let history_a = alice.history("general").await;
    let history_c = carol.history("general").await;
    assert_eq!(history_a, history_c);
    assert_eq!(history_a["head"], count as u64);
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn names_and_channels_are_unique_across_servers() {
    let redis = RedisServer::start();
    let (a, b) = (server_on(&redis).await, server_on(&redis).await);
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;

    // Both servers race to create the same channel, spelled differently.
    let (on_a, on_b) = tokio::join!(
        alice.create_channel("General"),
        bob.create_channel("general")
    );
    let mut statuses = [on_a.status().as_u16(), on_b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "exactly one wins");
    let loser = if on_a.status() == 409 { on_a } else { on_b };
    let error: Value = loser.json().await.unwrap();
    assert_eq!(error["code"], "channel_exists");
    assert_eq!(alice.channels().await.len(), 1);
    assert_eq!(bob.channels().await, alice.channels().await);

    // Both race to register the same name.
    let (mut one, mut two) = (a.anonymous(), b.anonymous());
    let (first, second) = tokio::join!(one.register("Dora"), two.register("dora"));
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "exactly one Dora");

    // Names that only look alike race too: one name, decided in Redis.
    for (first, second) in [
        ("erin", "er\u{200D}in"),
        ("ivan", "Ivan\u{FE0F}"),
        ("lena", "1ena"),
    ] {
        let (mut one, mut two) = (a.anonymous(), b.anonymous());
        let (x, y) = tokio::join!(one.register(first), two.register(second));
        let mut statuses = [x.status().as_u16(), y.status().as_u16()];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 409],
            "exactly one of {first:?} and {second:?}"
        );
        let (room_x, room_y) = (format!("{first}-room"), format!("{second}-room"));
        let (x, y) = tokio::join!(alice.create_channel(&room_x), bob.create_channel(&room_y));
        let mut statuses = [x.status().as_u16(), y.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "exactly one channel {first:?}");
    }
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_session_and_a_client_id_mean_the_same_on_every_server() {
    let redis = RedisServer::start();
    let (a, b) = (server_on(&redis).await, server_on(&redis).await);
    let mut alice = a.anonymous();
    assert_eq!(alice.register("alice").await.status(), 200);
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let cookie = alice.cookie.clone().expect("a session cookie");

    // The same cookie at once on the other server: the same user.
    let on_b = Client::with_cookie(b.addr, &cookie);
    let me: Value = on_b.post("me", json!({})).await.json().await.unwrap();
    assert_eq!(me["display_name"], "alice");
    let mut ws_b = on_b.connect().await;
    ws_b.join("general", None).await;
    ws_b.send_message("general", "same-id", "once").await;
    let first = ws_b.until("ack").await;

    // A retry of that client_id through server A is acked with the same
    // seq and stores nothing.
    let mut ws_a = alice.connect().await;
    ws_a.join("general", None).await;
    ws_a.send_message("general", "same-id", "once").await;
    let retry = ws_a.until("ack").await;
    assert_eq!(retry["seq"], first["seq"]);
    let history = alice.history("general").await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_server_started_later_holds_the_same_window_and_resumes_viewers() {
    let redis = RedisServer::start();
    let a = server_on(&redis).await;
    let alice = a.user("alice").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let mut ws = alice.connect().await;
    ws.join("general", None).await;
    for i in 0..150 {
        ws.send_message("general", &format!("m{i}"), &format!("message {i}"))
            .await;
    }
    let mut acks = 0;
    while acks < 150 {
        if ws.next_json().await["type"] == "ack" {
            acks += 1;
        }
    }
    // Edits, deletions and reactions travel the same way.
    ws.send_json(json!({ "type": "delete", "channel": "general", "id": 140 }))
        .await;
    ws.send_json(json!({ "type": "edit", "channel": "general", "id": 141, "body": "edited" }))
        .await;
    ws.send_json(
        json!({ "type": "react", "channel": "general", "id": 142, "emoji": "🎉", "add": true }),
    )
    .await;
    ws.until("reactions").await;

    let late = server_on(&redis).await;
    let viewer = Client::with_cookie(late.addr, alice.cookie.as_deref().unwrap());
    let history = viewer.history("general").await;
    assert_eq!(
        history,
        alice.history("general").await,
        "same window on both"
    );
    let held = history["messages"].as_array().unwrap();
    assert_eq!(held.len(), 99, "the last 100, minus the deleted one");
    assert_eq!(held[0]["seq"], 51);
    let seqs: HashSet<u64> = held.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(!seqs.contains(&140));
    let edited = held.iter().find(|m| m["seq"] == 141).unwrap();
    assert_eq!(edited["body"], "edited");
    assert_eq!(history["head"], 153);

    // A viewer of server A resumes on the late server after seq 149: the
    // events since then, no reset (the server_id is the same).
    let mut moved = viewer.connect().await;
    let (backlog, joined) = moved.join("general", Some(149)).await;
    let kinds: Vec<&str> = backlog
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["message", "deleted", "edited", "reactions"]);
    assert_eq!(joined["head"], 153);
    for server in [a, late] {
        server.stop().await;
    }
}

/// Reads `message` frames until one has `seq`, collecting their seqs.
async fn seqs_until(ws: &mut Ws, last: u64, seen: &mut Vec<u64>) {
    while seen.last() != Some(&last) {
        let frame = ws.next_json().await;
        if frame["type"] == "message" {
            seen.push(frame["seq"].as_u64().unwrap());
        }
    }
}

#[tokio::test]
async fn viewers_of_a_killed_server_resume_on_another_with_nothing_lost() {
    let redis = RedisServer::start();
    let url = redis.url();
    let (mut b, b_addr) = crate::common::spawn_server(&["--redis-url", &url]);
    let (mut c, c_addr) = crate::common::spawn_server(&["--redis-url", &url]);
    let a = server_on(&redis).await;
    let alice = a.user("alice").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let mut bob = Client::new(b_addr);
    assert_eq!(bob.register("bob").await.status(), 200);
    let mut viewer = bob.connect().await;
    viewer.join("general", None).await;

    // Alice keeps sending while B dies.
    let total = 300u64;
    let mut sender = alice.connect().await;
    let sending = tokio::spawn(async move {
        for i in 0..total {
            sender
                .send_message("general", &format!("m{i}"), &format!("message {i}"))
                .await;
            if i % 10 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        let mut acked = 0;
        while acked < total {
            let frame = sender.next_json().await;
            assert_ne!(frame["type"], "error", "{frame}");
            if frame["type"] == "ack" {
                acked += 1;
            }
        }
    });

    let mut seen = Vec::new();
    seqs_until(&mut viewer, 50, &mut seen).await;
    crate::common::signal(&b, "KILL");
    crate::common::wait_for_exit(&mut b, std::time::Duration::from_secs(10)).expect("B is gone");
    // Take whatever B managed to write before it died.
    while let Ok(Some(Ok(message))) = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        futures::StreamExt::next(&mut viewer.stream),
    )
    .await
    {
        if let Ok(frame) = serde_json::from_str::<Value>(message.to_text().unwrap_or("")) {
            if frame["type"] == "message" {
                seen.push(frame["seq"].as_u64().unwrap());
            }
        }
    }
    let last = *seen.last().unwrap();

    // The same session on C, resuming after the last seq it saw.
    let on_c = Client::with_cookie(c_addr, bob.cookie.as_deref().unwrap());
    let mut resumed = on_c.connect().await;
    let (backlog, _) = resumed.join("general", Some(last)).await;
    assert!(
        backlog.iter().all(|e| e["type"] == "message"),
        "no reset: {backlog:?}"
    );
    seen.extend(backlog.iter().map(|m| m["seq"].as_u64().unwrap()));
    seqs_until(&mut resumed, total, &mut seen).await;
    sending.await.unwrap();

    let expected: Vec<u64> = (1..=total).collect();
    assert_eq!(
        seen, expected,
        "every message once, in order, across the failover"
    );
    crate::common::signal(&c, "KILL");
    let _ = c.wait();
    a.stop().await;
}

async fn ready(server: &TestServer) -> u16 {
    server.anonymous().get("/readyz").await.status().as_u16()
}

async fn wait_ready(server: &TestServer, want: u16) {
    for _ in 0..200 {
        if ready(server).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("/readyz never answered {want}");
}

#[tokio::test]
async fn while_redis_is_down_sends_are_refused_and_everything_recovers_after() {
    let mut redis = RedisServer::start();
    let (a, b) = (server_on(&redis).await, server_on(&redis).await);
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let mut sender = alice.connect().await;
    let mut viewer = bob.connect().await;
    sender.join("general", None).await;
    viewer.join("general", None).await;
    sender
        .send_message("general", "before", "before the outage")
        .await;
    assert_eq!(sender.until("ack").await["seq"], 1);
    assert_eq!(wait_for_message(&mut viewer).await["seq"], 1);
    assert_eq!(ready(&a).await, 200);

    redis.stop();
    wait_ready(&a, 503).await;
    wait_ready(&b, 503).await;
    let why = a.anonymous().get("/readyz").await.text().await.unwrap();
    assert_eq!(
        why, "not ready\n",
        "the reason is for the log, not the caller"
    );
    // A send is refused, clearly, never acknowledged.
    sender
        .send_message("general", "during", "during the outage")
        .await;
    let refused = sender.until("error").await;
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert_eq!(refused["client_id"], "during");
    let metrics = a.anonymous().get("/metrics").await.text().await.unwrap();
    assert!(
        !metrics.contains("flack_redis_errors_total 0\n"),
        "errors are counted:\n{metrics}"
    );

    redis.restart();
    wait_ready(&a, 200).await;
    wait_ready(&b, 200).await;
    // The client resends the refused message; it gets the next seq.
    sender
        .send_message("general", "during", "during the outage")
        .await;
    assert_eq!(sender.until("ack").await["seq"], 2);
    sender
        .send_message("general", "after", "after the outage")
        .await;
    assert_eq!(sender.until("ack").await["seq"], 3);
    assert_eq!(wait_for_message(&mut viewer).await["seq"], 2);
    assert_eq!(wait_for_message(&mut viewer).await["seq"], 3);
    let history = bob.history("general").await;
    let bodies: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["before the outage", "during the outage", "after the outage"]
    );
    for server in [a, b] {
        server.stop().await;
    }
}

async fn wait_for_message(ws: &mut Ws) -> Value {
    ws.until("message").await
}

#[tokio::test]
async fn a_server_cut_off_from_redis_catches_up_from_the_log_without_skipping() {
    let redis = RedisServer::start();
    let proxy = crate::common::Proxy::start(redis.port).await;
    let a = server_on(&redis).await;
    let url = proxy.url();
    let b = TestServer::start_with(move |config| config.redis_url = Some(url)).await;
    let alice = a.user("alice").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let bob = b.user("bob").await;
    let mut viewer = bob.connect().await;
    viewer.join("general", None).await;
    let mut sender = alice.connect().await;

    proxy.cut();
    wait_ready(&b, 503).await;
    assert_eq!(ready(&a).await, 200, "only B lost its link");
    for i in 0..20 {
        sender
            .send_message("general", &format!("m{i}"), "while B is away")
            .await;
        sender.until("ack").await;
    }
    proxy.restore();
    wait_ready(&b, 200).await;
    let mut seen = Vec::new();
    seqs_until(&mut viewer, 20, &mut seen).await;
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>(), "caught up, in order");
    for server in [a, b] {
        server.stop().await;
    }
}

/// A server whose link to `redis` goes through a proxy the test controls.
async fn behind_proxy(redis: &RedisServer) -> (crate::common::Proxy, TestServer) {
    let proxy = crate::common::Proxy::start(redis.port).await;
    let url = proxy.url();
    let server = TestServer::start_with(move |config| config.redis_url = Some(url)).await;
    (proxy, server)
}

/// Checks that a registration was refused as unavailable (`503`), and
/// whether a new session cookie came with it.
fn assert_unavailable(response: &reqwest::Response, with_cookie: bool, why: &str) {
    assert_eq!(response.status(), 503, "{why}");
    let cookie = response.headers().get("set-cookie").is_some();
    assert_eq!(cookie, with_cookie, "{why}");
}

/// Registers `name` until the answer is something other than `503`, as a
/// client told "try again in a moment" does; checks that it ends signed
/// in as `name`, and returns the user.
async fn retry_registration(client: &mut Client, name: &str) -> Value {
    for _ in 0..100 {
        let response = client.register(name).await;
        match response.status().as_u16() {
            503 => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            200 => {
                let user = response.json::<Value>().await.unwrap();
                let me = client.post("me", json!({})).await.json::<Value>().await;
                assert_eq!(me.unwrap()["display_name"], name, "signed in as {name}");
                return user;
            }
            status => panic!(
                "register {name}: {status} {}",
                response.text().await.unwrap()
            ),
        }
    }
    panic!("register {name}: still 503 after 10 s");
}

#[tokio::test]
async fn a_registration_whose_answer_from_redis_was_lost_succeeds_when_retried() {
    let redis = RedisServer::start();
    let (proxy, a) = behind_proxy(&redis).await;
    let b = server_on(&redis).await;
    // A first change loads the script into Redis: a call that swallowed
    // its NOSCRIPT answer would not have run at all.
    a.user("bob").await;
    let mut alice = a.anonymous();

    // Redis makes the user; A never hears back.
    proxy.swallow_replies();
    assert_unavailable(
        &alice.register("alice").await,
        true,
        "the cookie of the session Redis may hold is handed out anyway",
    );
    assert_eq!(
        b.anonymous().register("alice").await.status(),
        409,
        "Redis did make alice"
    );
    // The link stays down long enough for the follower's reconnect backoff
    // to grow: back, the writer reconnects at once and the follower later.
    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    proxy.restore();

    // Retried at once, while A has not yet applied the user Redis made:
    // it catches up first (or answers 503 until it has), never a wrong
    // name_taken.
    retry_registration(&mut alice, "alice").await;
    let mut other = a.anonymous();
    assert_eq!(
        other.register("alice").await.status(),
        409,
        "still one alice"
    );
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_registration_that_never_reached_redis_succeeds_when_retried() {
    let redis = RedisServer::start();
    let (proxy, a) = behind_proxy(&redis).await;
    let mut alice = a.anonymous();

    proxy.cut();
    assert_unavailable(&alice.register("alice").await, true, "Redis is unreachable");
    proxy.restore();
    // The cookie that came with the 503 names no session: the name is free.
    retry_registration(&mut alice, "alice").await;
    a.stop().await;
}

/// Registering one's own name again with a working cookie makes nothing,
/// so it needs no answer from Redis: the cookie is kept, and no new one
/// that might name nothing replaces it.
#[tokio::test]
async fn a_signed_in_user_keeps_their_cookie_when_redis_does_not_answer() {
    let redis = RedisServer::start();
    let (proxy, a) = behind_proxy(&redis).await;
    let mut alice = a.anonymous();
    let first = alice.register("alice").await;
    assert_eq!(first.status(), 200);
    let id = first.json::<Value>().await.unwrap()["user_id"].clone();

    for fail in ["cut", "swallow"] {
        if fail == "cut" {
            proxy.cut();
        } else {
            proxy.swallow_replies();
        }
        let again = alice.register("alice").await;
        assert_eq!(again.status(), 200, "{fail}");
        assert!(
            again.headers().get("set-cookie").is_none(),
            "{fail}: no new cookie"
        );
        assert_eq!(
            again.json::<Value>().await.unwrap()["user_id"],
            id,
            "{fail}"
        );
        proxy.restore();
        let again = retry_registration(&mut alice, "alice").await;
        assert_eq!(again["user_id"], id, "{fail}");
    }
    a.stop().await;
}

#[tokio::test]
async fn a_signed_in_user_taking_a_new_name_gets_it_when_retried_after_a_lost_answer() {
    let redis = RedisServer::start();
    let (proxy, a) = behind_proxy(&redis).await;
    let mut dave = a.user("dave").await;

    proxy.swallow_replies();
    assert_unavailable(
        &dave.register("erin").await,
        true,
        "a new name's cookie goes out, as it would have with a 200",
    );
    proxy.restore();
    retry_registration(&mut dave, "erin").await;
    a.stop().await;
}

#[tokio::test]
async fn a_cookie_from_another_server_survives_this_one_being_cut_off() {
    let redis = RedisServer::start();
    let (proxy, a) = behind_proxy(&redis).await;
    let b = server_on(&redis).await;

    // Carol signs up on B while A cannot hear of it, then reaches A, which
    // does not know her cookie: as a browser does, she registers her name
    // again there.
    proxy.cut();
    let carol_on_b = b.user("carol").await;
    let cookie = carol_on_b.cookie.clone().expect("B set a cookie");
    let mut carol = crate::common::Client::with_cookie(a.addr, &cookie);
    assert_unavailable(
        &carol.register("carol").await,
        false,
        "her working cookie is not replaced by one that names nothing",
    );
    proxy.restore();
    retry_registration(&mut carol, "carol").await;
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_server_whose_place_in_the_log_was_trimmed_reloads_and_resets_its_viewers() {
    let redis = RedisServer::start();
    let proxy = crate::common::Proxy::start(redis.port).await;
    // A tiny log: Redis trims it (in whole blocks of ~100 entries).
    let url = redis.url();
    let a = TestServer::start_with(move |config| {
        config.redis_url = Some(url);
        config.redis_log = 10;
    })
    .await;
    let url = proxy.url();
    let b = TestServer::start_with(move |config| {
        config.redis_url = Some(url);
        config.redis_log = 10;
    })
    .await;
    let alice = a.user("alice").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let bob = b.user("bob").await;
    let mut viewer = bob.connect().await;
    viewer.join("general", None).await;
    let mut sender = alice.connect().await;

    proxy.cut();
    wait_ready(&b, 503).await;
    let total = 400u64;
    for i in 0..total {
        sender
            .send_message("general", &format!("m{i}"), &format!("m{i}"))
            .await;
    }
    let mut acked = 0;
    while acked < total {
        if sender.next_json().await["type"] == "ack" {
            acked += 1;
        }
    }
    proxy.restore();
    wait_ready(&b, 200).await;
    // B cannot replay what the log no longer holds: its viewer is told to
    // start over, then gets the window as it is.
    viewer.until("reset").await;
    let window = messages(&mut viewer, 100).await;
    let seqs: Vec<u64> = window.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (total - 99..=total).collect::<Vec<u64>>());
    assert_eq!(bob.history("general").await, alice.history("general").await);
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_file_uploaded_on_one_server_is_attached_and_served_on_another() {
    let redis = RedisServer::start();
    let (a, b) = (server_on(&redis).await, server_on(&redis).await);
    let mut alice = a.anonymous();
    assert_eq!(alice.register("alice").await.status(), 200);
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let png = [
        &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a][..],
        &[0; 64],
    ]
    .concat();
    // Uploaded through A...
    let upload: Value = alice
        .upload("cat.png", png.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upload["content_type"], "image/png");
    // ...attached by a send through B...
    let on_b = Client::with_cookie(b.addr, alice.cookie.as_deref().unwrap());
    let mut ws = on_b.connect().await;
    ws.join("general", None).await;
    ws.send_json(json!({
        "type": "send", "channel": "general", "client_id": "f1",
        "body": "a cat", "attachments": [upload["id"]],
    }))
    .await;
    assert_eq!(ws.until("ack").await["seq"], 1);
    // ...served by both, and by nobody once its message is deleted.
    let path = format!("/files/{}/cat.png", upload["id"].as_str().unwrap());
    for client in [&alice, &on_b] {
        let response = client.get(&path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap().to_vec(), png);
    }
    ws.send_json(json!({ "type": "delete", "channel": "general", "id": 1 }))
        .await;
    ws.until("deleted").await;
    assert_eq!(alice.get(&path).await.status(), 404);
    // A second send cannot claim the same upload.
    let again = alice
        .upload("dog.png", png.clone())
        .await
        .json::<Value>()
        .await
        .unwrap();
    for client_id in ["f2", "f3"] {
        ws.send_json(json!({
            "type": "send", "channel": "general", "client_id": client_id,
            "body": "twice", "attachments": [again["id"]],
        }))
        .await;
    }
    // The ack and the refusal may come in either order.
    let (mut acked, mut refused) = (None, None);
    while acked.is_none() || refused.is_none() {
        let frame = ws.next_json().await;
        match frame["type"].as_str() {
            Some("ack") => acked = Some(frame),
            Some("error") => refused = Some(frame),
            _ => {}
        }
    }
    let (acked, refused) = (acked.unwrap(), refused.unwrap());
    assert_eq!(acked["client_id"], "f2");
    assert_eq!(refused["code"], "bad_attachment", "{refused}");
    assert_eq!(refused["client_id"], "f3");
    for server in [a, b] {
        server.stop().await;
    }
}

async fn status_in_people(client: &Client, user: &str) -> String {
    let people: Value = client.post("people", json!({})).await.json().await.unwrap();
    people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == user)
        .map(|p| p["status"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn presence_and_typing_cross_servers() {
    let redis = RedisServer::start();
    let (a, b) = (server_on(&redis).await, server_on(&redis).await);
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    let mut watcher = bob.connect().await;
    watcher.join("general", None).await;

    // Alice opens two tabs on A; Bob, on B, sees her come and go.
    let mut tab1 = alice.connect().await;
    assert_eq!(watcher.presence_of("alice").await, "online");
    assert_eq!(status_in_people(&bob, "alice").await, "online");
    let mut tab2 = alice.connect().await;
    tab1.send_json(json!({ "type": "away", "away": true }))
        .await;
    tab2.send_json(json!({ "type": "away", "away": true }))
        .await;
    assert_eq!(watcher.presence_of("alice").await, "away");

    // Typing on A shows on B.
    tab1.join("general", None).await;
    tab1.send_json(json!({ "type": "typing", "channel": "general" }))
        .await;
    let typing = watcher.until("typing").await;
    assert_eq!(typing["user"], "alice");
    assert_eq!(typing["channel"], "general");

    drop(tab1);
    drop(tab2);
    assert_eq!(watcher.presence_of("alice").await, "offline");
    assert_eq!(status_in_people(&bob, "alice").await, "offline");
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn the_users_of_a_killed_server_go_offline_everywhere() {
    let redis = RedisServer::start();
    let url = redis.url();
    let (mut doomed, doomed_addr) =
        crate::common::spawn_server(&["--redis-url", &url, "--presence-timeout-secs", "2"]);
    let url = redis.url();
    let b = TestServer::start_with(move |config| {
        config.redis_url = Some(url);
        config.presence_timeout_secs = 2;
    })
    .await;
    let bob = b.user("bob").await;
    let mut watcher = bob.connect().await;
    let mut alice = Client::new(doomed_addr);
    assert_eq!(alice.register("alice").await.status(), 200);
    let _tab = alice.connect().await;
    assert_eq!(watcher.presence_of("alice").await, "online");

    // Killed: it cannot say goodbye; its silence does.
    crate::common::signal(&doomed, "KILL");
    let _ = doomed.wait();
    assert_eq!(watcher.presence_of("alice").await, "offline");
    b.stop().await;
}

/// A session in use while it is signed out stays signed out: a touch (a
/// use recorded) that crosses the sign-out on its way through Redis does
/// not bring it back, on either server.
#[tokio::test]
async fn a_session_used_while_it_is_signed_out_stays_signed_out() {
    let redis = RedisServer::start();
    let on = |redis: &RedisServer| {
        let url = redis.url();
        TestServer::start_with(move |config| {
            config.redis_url = Some(url);
            // A use is recorded once the last is 2 s old.
            config.session_idle_secs = 20;
        })
    };
    let (a, b) = (on(&redis).await, on(&redis).await);
    let mut users = Vec::new();
    for round in 0..10 {
        users.push(a.user(&format!("alice{round}")).await);
    }
    // Every one of them is due a recorded use: until the first is applied,
    // each request records one more, so many are on their way to Redis
    // when the sign-out is.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for (round, alice) in users.into_iter().enumerate() {
        let cookie = alice.cookie.clone().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let users: Vec<_> = (0..3)
            .map(|_| {
                let (client, stop) = (Client::with_cookie(a.addr, &cookie), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        client.post("me", json!({})).await;
                    }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(alice.post("sign_out", json!({})).await.status(), 200);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for user in users {
            user.await.unwrap();
        }
        // Both servers have applied everything up to a later change.
        let fence = format!("fence{round}");
        assert_eq!(
            b.user(&fence).await.create_channel(&fence).await.status(),
            200
        );
        for server in [&a, &b] {
            let mut seen = false;
            for _ in 0..100 {
                let channels = server.anonymous().channels().await;
                if channels.iter().any(|c| c["name"] == fence.as_str()) {
                    seen = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(seen, "{fence} reached every server");
            let me: Value = Client::with_cookie(server.addr, &cookie)
                .post("me", json!({}))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(
                me,
                Value::Null,
                "round {round}: signed out stays signed out"
            );
        }
    }
    a.stop().await;
    b.stop().await;
}

/// A Redis that comes back without Flack's data (a new dataset id): the
/// server's seqs and sessions mean nothing there, so it stops as after
/// SIGTERM (sockets closed with 1001, "going away") but exits 70, for a
/// supervisor to restart it on the new data.
#[tokio::test]
async fn a_server_whose_redis_lost_its_data_shuts_down_and_exits_70() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let (mut child, addr) = crate::common::spawn_server(&["--redis-url", &url]);
    let mut alice = Client::new(addr);
    assert_eq!(alice.register("alice").await.status(), 200);
    let mut ws = alice.connect().await;

    redis.stop();
    redis.wipe();
    redis.restart();

    let close = loop {
        match ws.next_message().await {
            tokio_tungstenite::tungstenite::Message::Close(frame) => break frame,
            _ => continue,
        }
    };
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    let exit = tokio::task::spawn_blocking(move || {
        crate::common::wait_for_exit(&mut child, std::time::Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert_eq!(exit.map(|s| s.code()), Some(Some(70)), "exits 70");
}
