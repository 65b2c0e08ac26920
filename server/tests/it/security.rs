//! Hostile input and access control against the real server: every bad
//! input gets its documented refusal, the server keeps serving others, no
//! state changes, and nothing accepted earlier is lost.

use crate::common::{Client, Ending, TestServer};
use futures::SinkExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The server's view that must not change under attack.
async fn state_of(client: &Client) -> (Vec<Value>, Value) {
    (client.channels().await, client.history("general").await)
}

#[tokio::test]
async fn bad_http_requests_are_refused_with_a_reason_and_change_nothing() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut ws = alice.connect().await;
    ws.send_message("general", "kept", "accepted before the attack")
        .await;
    ws.until("ack").await;
    let before = state_of(&alice).await;

    let http = reqwest::Client::new();
    let url = |path: &str| server.url(path);
    let cookie = alice.cookie.clone().unwrap();
    struct Case {
        what: &'static str,
        path: &'static str,
        body: String,
        headers: Vec<(&'static str, String)>,
        status: u16,
    }
    let cases = vec![
        Case {
            what: "cross-site origin",
            path: "/api/create_channel",
            body: json!({"name": "evil"}).to_string(),
            headers: vec![
                ("origin", "https://evil.example".into()),
                ("cookie", cookie.clone()),
            ],
            status: 403,
        },
        Case {
            what: "cross-site fetch without origin",
            path: "/api/create_channel",
            body: json!({"name": "evil"}).to_string(),
            headers: vec![
                ("sec-fetch-site", "cross-site".into()),
                ("cookie", cookie.clone()),
            ],
            status: 403,
        },
        Case {
            what: "missing cookie",
            path: "/api/create_channel",
            body: json!({"name": "evil"}).to_string(),
            headers: vec![],
            status: 401,
        },
        Case {
            what: "forged cookie",
            path: "/api/create_channel",
            body: json!({"name": "evil"}).to_string(),
            headers: vec![(
                "cookie",
                "flack_session=00000000000000000000000000000000".into(),
            )],
            status: 401,
        },
        Case {
            what: "1 MiB body",
            path: "/api/register",
            body: format!(r#"{{"display_name":"{}"}}"#, "x".repeat(1 << 20)),
            headers: vec![],
            status: 413,
        },
        Case {
            what: "malformed JSON",
            path: "/api/create_channel",
            body: "{\"name\":".into(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "wrong type",
            path: "/api/create_channel",
            body: json!({"name": 7}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "missing field",
            path: "/api/create_channel",
            body: "{}".into(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "unknown field",
            path: "/api/create_channel",
            body: json!({"name": "x", "private": true}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "forged author field",
            path: "/api/create_channel",
            body: json!({"name": "x", "created_by": "bob"}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "10,000-character name",
            path: "/api/create_channel",
            body: json!({"name": "n".repeat(10_000)}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "bidi override",
            path: "/api/create_channel",
            body: json!({"name": "gen\u{202E}eral"}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "whitespace only",
            path: "/api/create_channel",
            body: json!({"name": " \t "}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 400,
        },
        Case {
            what: "same name, other case",
            path: "/api/create_channel",
            body: json!({"name": "GENERAL"}).to_string(),
            headers: vec![("cookie", cookie.clone())],
            status: 409,
        },
    ];
    for case in cases {
        let mut request = http
            .post(url(case.path))
            .header("content-type", "application/json")
            .body(case.body);
        for (name, value) in &case.headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), case.status, "{}", case.what);
        assert!(
            !response.text().await.unwrap().is_empty(),
            "{}: says why",
            case.what
        );
    }
    assert_eq!(
        state_of(&alice).await,
        before,
        "nothing changed, nothing lost"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_websocket_upgrades_are_refused() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = 2).await;
    let alice = server.user("alice").await;
    let err = server.anonymous().try_connect(None).await.err().unwrap();
    assert!(err.to_string().contains("401"), "no cookie: {err}");
    let err = alice
        .try_connect(Some("https://evil.example"))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("403"), "foreign origin: {err}");
    let _one = alice.connect().await;
    let _two = alice.connect().await;
    let err = alice.try_connect(None).await.err().unwrap();
    assert!(
        err.to_string().contains("429"),
        "third from one address: {err}"
    );
    drop(_one);
    // The slot comes back once the first connection is gone.
    let mut reconnected = None;
    for _ in 0..50 {
        if let Ok(ws) = alice.try_connect(None).await {
            reconnected = Some(ws);
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reconnected.is_some(), "a freed slot can be used again");
    server.stop().await;
}

#[tokio::test]
async fn a_message_flood_is_throttled_with_retry_times_and_nothing_accepted_is_lost() {
    let server = TestServer::start_with(|c| {
        c.message_rate = 5;
        c.message_burst = 5;
    })
    .await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut ws = alice.connect().await;
    for i in 0..20 {
        let frame = json!({"type": "send", "channel": "general", "client_id": format!("c{i}"), "body": format!("m{i}")});
        ws.stream
            .feed(Message::text(frame.to_string()))
            .await
            .unwrap();
    }
    ws.stream.flush().await.unwrap();
    let (mut acked, mut throttled) = (Vec::new(), Vec::new());
    let mut retry_after = 0;
    while acked.len() + throttled.len() < 20 {
        let frame = ws.next_json().await;
        match frame["type"].as_str() {
            Some("ack") => acked.push(frame["client_id"].as_str().unwrap().to_owned()),
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited");
                let ms = frame["retry_after_ms"].as_u64().unwrap_or(0);
                assert!(ms > 0 && ms <= 1000, "{frame}");
                retry_after = retry_after.max(ms);
                throttled.push(frame["client_id"].as_str().unwrap().to_owned());
            }
            _ => {}
        }
    }
    assert_eq!(acked.len(), 5, "the burst");
    let history = alice.history("general").await;
    let stored: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["client_id"].clone())
        .collect();
    assert_eq!(
        stored,
        acked.iter().map(|id| json!(id)).collect::<Vec<_>>(),
        "only the accepted are stored"
    );

    // A throttled message retried after the wait the server named is accepted.
    tokio::time::sleep(Duration::from_millis(retry_after)).await;
    ws.send_message("general", &throttled[0], "retried").await;
    assert_eq!(ws.until("ack").await["client_id"], throttled[0].as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_connection_is_throttled_then_closed_and_others_barely_notice() {
    let server = TestServer::start_with(|c| {
        // Per connection: roomy for a person, tight for a flood.
        c.frame_rate = 100;
        c.frame_burst = 100;
        c.invalid_frame_burst = 10;
    })
    .await;
    let mallory = server.user("mallory").await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    let mut b = bob.connect().await;
    b.join("general", None).await;

    // A normal exchange, timed, before and during the flood.
    async fn round_trip(
        a: &mut crate::common::Ws,
        b: &mut crate::common::Ws,
        id: &str,
    ) -> Duration {
        let start = Instant::now();
        a.send_message("general", id, id).await;
        loop {
            let frame = b.until("message").await;
            if frame["client_id"] == id {
                return start.elapsed();
            }
        }
    }
    let mut quiet = Vec::new();
    for i in 0..20 {
        quiet.push(round_trip(&mut a, &mut b, &format!("q{i}")).await);
    }

    let mut m = mallory.connect().await;
    let flood = tokio::spawn(async move {
        for _ in 0..5_000 {
            if m.stream
                .send(Message::text(r#"{"type":"ping"}"#))
                .await
                .is_err()
            {
                break;
            }
        }
        m.ending().await
    });
    let mut loud = Vec::new();
    for i in 0..20 {
        loud.push(round_trip(&mut a, &mut b, &format!("l{i}")).await);
    }
    let ended = flood.await.unwrap();
    assert!(
        matches!(ended, Ending::Closed(Some((1008, _))) | Ending::Reset),
        "the flooder is cut off with a policy close: {ended:?}"
    );

    quiet.sort();
    loud.sort();
    eprintln!(
        "delivery latency p50 quiet {:?} / during flood {:?}; max {:?} / {:?}",
        quiet[10], loud[10], quiet[19], loud[19]
    );
    server.stop().await;
}

#[tokio::test]
async fn repeated_invalid_frames_close_the_connection_with_a_policy_code() {
    let server = TestServer::start_with(|c| c.invalid_frame_burst = 5).await;
    let alice = server.user("alice").await;
    let mut ws = alice.connect().await;
    for _ in 0..5 {
        ws.send_text("not json").await;
        assert_eq!(ws.until("error").await["code"], "bad_json");
    }
    ws.send_text("not json").await;
    assert_eq!(ws.ending().await.code(), Some(1008));
    // The server keeps serving everyone else.
    let mut other = alice.connect().await;
    other.send_json(json!({"type": "ping"})).await;
    assert_eq!(other.until("pong").await["type"], "pong");
    server.stop().await;
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut ws = alice.connect().await;
    // A text frame whose payload is not UTF-8, written as raw frame bytes.
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![0xff, 0xfe, 0xfd],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    ws.stream.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(ws.ending().await.code(), Some(1007));
    let mut other = alice.connect().await;
    other.send_json(json!({"type": "ping"})).await;
    assert_eq!(other.until("pong").await["type"], "pong");
    server.stop().await;
}

#[tokio::test]
async fn registration_is_throttled_per_address() {
    let server = TestServer::start_with(|c| {
        c.register_rate = 1;
        c.register_burst = 3;
    })
    .await;
    for i in 0..3 {
        assert_eq!(
            server.anonymous().register(&format!("u{i}")).await.status(),
            200
        );
    }
    let response = server.anonymous().register("u3").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0));
    assert!(server
        .anonymous()
        .post("me", json!({}))
        .await
        .status()
        .is_success());
    server.stop().await;
}

#[tokio::test]
async fn channel_creation_is_throttled_per_user() {
    let server = TestServer::start_with(|c| {
        c.channel_rate = 1;
        c.channel_burst = 2;
    })
    .await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    assert_eq!(alice.create_channel("one").await.status(), 200);
    assert_eq!(alice.create_channel("two").await.status(), 200);
    let response = alice.create_channel("three").await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(
        bob.create_channel("three").await.status(),
        200,
        "others are not affected"
    );
    assert_eq!(alice.channels().await.len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/c/anything", "/no/such/page"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    let api = server.anonymous().post("list_channels", json!({})).await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    server.stop().await;
}

#[tokio::test]
async fn a_send_refused_by_the_frame_limit_names_its_client_id() {
    let server = TestServer::start_with(|c| {
        c.frame_rate = 1;
        c.frame_burst = 2;
    })
    .await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut ws = alice.connect().await;
    for i in 0..3 {
        ws.send_message("general", &format!("f{i}"), "hi").await;
    }
    let refused = ws.until("error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(refused["client_id"], "f2");
    assert_eq!(refused["channel"], "general");
    server.stop().await;
}

/// Names that render as another's are that name (taken), a name with
/// nothing to see is invalid, and so is one mixing look-alike scripts:
/// for display names and channel names alike.
#[tokio::test]
async fn look_alike_names_are_taken_and_invisible_or_mixed_script_ones_invalid() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    assert_eq!(alice.create_channel("general").await.status(), 200);
    // Each a look-alike of "alice", and the same of "general".
    let taken = [
        ("ALICE", "GENERAL"),
        ("ａｌｉｃｅ", "ｇｅｎｅｒａｌ"),
        ("alice\u{200D}", "general\u{200D}"),
        ("al\u{200D}ice", "gen\u{200D}eral"),
        ("alice\u{FE0F}", "general\u{FE0F}"),
        ("alice\u{E0061}\u{E007F}", "general\u{E0061}\u{E007F}"),
        ("alice\u{2800}", "general\u{2800}"),
        ("a1ice", "genera1"),
        ("aIice", "generaI"),
    ];
    for (name, channel) in taken {
        let response = server.anonymous().register(name).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), &body["code"]),
            (409, &json!("name_taken")),
            "{name:?}: {body}"
        );
        let response = alice.create_channel(channel).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), &body["code"]),
            (409, &json!("channel_exists")),
            "{channel:?}: {body}"
        );
        assert_eq!(
            body["message"],
            "a channel named \"general\" already exists"
        );
    }
    for (name, says) in [
        ("\u{200D}\u{200D}", "has no visible character"),
        ("\u{2800}", "has no visible character"),
        ("\u{E0041}\u{E0042}", "has no visible character"),
        ("alice\u{3164}", "must not contain invisible"),
        ("ali\u{00AD}ce", "must not contain invisible"),
        ("\u{0430}nna", "mixes Cyrillic and Latin"),
        ("p\u{0430}ypal", "mixes Latin and Cyrillic"),
    ] {
        let response = server.anonymous().register(name).await;
        assert_eq!(response.status(), 400, "{name:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_input", "{name:?}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{name:?}: {body}"
        );
        let response = alice.create_channel(name).await;
        assert_eq!(response.status(), 400, "channel {name:?}");
    }
    for name in ["Zoë", "Дмитрий", "田中 Tanaka", "dev-ops 🎉"] {
        assert_eq!(
            server.anonymous().register(name).await.status(),
            200,
            "{name:?}"
        );
        assert_eq!(
            alice.create_channel(name).await.status(),
            200,
            "channel {name:?}"
        );
    }
    assert_eq!(alice.channels().await.len(), 5, "nothing else was made");
    server.stop().await;
}

/// Behind a reverse proxy every request comes from the proxy: with
/// `--trusted-proxy` the per-address limits count each client (from
/// `X-Forwarded-For`) instead of throttling the whole site; without it
/// the header is ignored, so a client cannot pick its own address.
#[tokio::test]
async fn per_address_limits_count_clients_behind_a_trusted_proxy_only() {
    let register_from = |server: &TestServer, name: String, client: &'static str| {
        let url = server.url("/api/register");
        async move {
            reqwest::Client::new()
                .post(url)
                .header("x-forwarded-for", client)
                .json(&json!({ "display_name": name }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let limited = |c: &mut server::Config| {
        c.register_rate = 1;
        c.register_burst = 2;
        c.max_connections_per_ip = 1;
    };
    let proxied = TestServer::start_with(move |c| {
        limited(c);
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut statuses = Vec::new();
    for (i, client) in ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"]
        .into_iter()
        .enumerate()
    {
        statuses.push(register_from(&proxied, format!("p{i}"), client).await);
    }
    assert_eq!(
        statuses,
        [200, 200, 429, 200],
        "each client has its own budget"
    );
    // One IPv6 subscriber is one /64, whichever address it uses.
    let v6 = [
        "2001:db8:7:7::1",
        "2001:db8:7:7:ffff::2",
        "2001:db8:7:7::3",
        "2001:db8:7:8::1",
    ];
    let mut statuses = Vec::new();
    for (i, client) in v6.into_iter().enumerate() {
        statuses.push(register_from(&proxied, format!("v{i}"), client).await);
    }
    assert_eq!(statuses, [200, 200, 429, 200]);
    // WebSocket connections per client, too.
    let alice = proxied.user("alice").await;
    let open = |client: &'static str| {
        let mut request = proxied.ws_url().into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("cookie", alice.cookie.clone().unwrap().parse().unwrap());
        headers.insert("x-forwarded-for", client.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let _first = open("203.0.113.9")
        .await
        .expect("the first connection opens");
    assert!(
        open("203.0.113.9").await.is_err(),
        "that client is at its cap"
    );
    let _other = open("203.0.113.10").await.expect("another client is not");
    proxied.stop().await;

    let direct = TestServer::start_with(limited).await;
    let mut statuses = Vec::new();
    for (i, client) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .into_iter()
        .enumerate()
    {
        statuses.push(register_from(&direct, format!("d{i}"), client).await);
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "an untrusted header changes nothing"
    );
    direct.stop().await;
}

/// Reads what the server sends until it closes the connection (or
/// `common::FRAME_WAIT` passes: then `None`).
async fn read_until_closed(tcp: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = tokio::time::timeout(crate::common::FRAME_WAIT, tcp.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

/// A client that sends half a request header, or stops halfway through a
/// body, does not hold its connection (or its upload's memory) for ever.
#[tokio::test]
async fn half_a_header_or_a_stalled_body_does_not_hold_a_connection() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start_with(|c| {
        c.header_timeout_secs = 1;
        c.body_timeout_secs = 1;
        c.upload_timeout_secs = 3;
    })
    .await;
    let mut half = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: flack\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        read_until_closed(&mut half).await.is_some(),
        "closed after the header timeout"
    );

    let alice = server.user("alice").await;
    let cookie = alice.cookie.clone().unwrap();
    let upload = format!(
        "POST /api/upload?name=big.bin HTTP/1.1\r\nHost: flack\r\nCookie: {cookie}\r\n\
         Content-Length: 100000\r\n\r\n"
    );
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(upload.as_bytes()).await.unwrap();
    stalled.write_all(&[7u8; 1000]).await.unwrap();
    let answer = read_until_closed(&mut stalled).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("timed_out"), "{answer}");

    // A trickle that never stalls long enough still has a deadline.
    let mut trickle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    trickle.write_all(upload.as_bytes()).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut trickle = trickle;
        let mut sent = 0;
        loop {
            if trickle.write_all(&[7u8; 10]).await.is_err() {
                break;
            }
            sent += 10;
            let wait = tokio::time::sleep(std::time::Duration::from_millis(300));
            let mut probe = [0u8; 512];
            tokio::select! {
                _ = wait => {}
                read = tokio::io::AsyncReadExt::read(&mut trickle, &mut probe) => {
                    let answer = String::from_utf8_lossy(&probe[..read.unwrap_or(0)]).into_owned();
                    return (answer, sent);
                }
            }
        }
        (String::new(), sent)
    });
    let (answer, sent) = reader.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(sent < 100_000, "cut off after {sent} bytes");
    assert_eq!(
        alice.post("me", json!({})).await.status(),
        200,
        "the server goes on serving"
    );
    server.stop().await;
}

/// More HTTP connections than the cap wait to be served; each one that
/// closes lets the next in.
#[tokio::test]
async fn http_connections_are_capped() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start_with(|c| c.max_http_connections = 2).await;
    let first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut probe = [0u8; 64];
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        tokio::io::AsyncReadExt::read(&mut third, &mut probe),
    )
    .await;
    assert!(early.is_err(), "the third waits while two hold the slots");
    drop(first);
    let answer = read_until_closed(&mut third)
        .await
        .expect("served once a slot frees");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await;
}

/// One address cannot take every HTTP slot: past its share its new
/// connections close at once, and a server function's body that trickles
/// in has a deadline of its own.
#[tokio::test]
async fn one_address_holds_a_bounded_share_of_http_connections_and_time() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start_with(|c| {
        c.max_http_connections_per_ip = 3;
        c.body_timeout_secs = 2;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    let mut fourth = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: flack\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut fourth)
        .await
        .expect("closed at once");
    assert!(answer.is_empty(), "not served: {answer}");
    drop(held.pop());
    let mut again = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: flack\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut again).await.expect("served");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);

    // A body that keeps trickling in (never pausing long) still ends.
    let mut trickle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    trickle
        .write_all(
            b"POST /api/me HTTP/1.1\r\nHost: flack\r\nContent-Type: application/json\r\n\
              Content-Length: 60000\r\n\r\n{",
        )
        .await
        .unwrap();
    let answer = tokio::spawn(async move {
        let mut probe = [0u8; 1024];
        loop {
            let wait = tokio::time::sleep(std::time::Duration::from_millis(500));
            tokio::select! {
                _ = wait => {
                    if trickle.write_all(b" ").await.is_err() {
                        return String::new();
                    }
                }
                read = tokio::io::AsyncReadExt::read(&mut trickle, &mut probe) => {
                    return String::from_utf8_lossy(&probe[..read.unwrap_or(0)]).into_owned();
                }
            }
        }
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("timed_out"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn the_number_of_channels_is_capped() {
    let server = TestServer::start_with(|c| c.max_channels = 2).await;
    let alice = server.user("alice").await;
    assert_eq!(alice.create_channel("one").await.status(), 200);
    assert_eq!(alice.create_channel("two").await.status(), 200);
    let refused = alice.create_channel("three").await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded", "{body}");
    // Conversations are not channels everyone lists: they have their own cap.
    server.user("bob").await;
    let opened = alice
        .post("open_conversation", json!({ "with": "bob" }))
        .await;
    assert_eq!(opened.status(), 200);
    assert_eq!(alice.channels().await.len(), 2);
    server.stop().await;
}
