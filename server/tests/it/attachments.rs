//! Attachments against the real server: upload, attach, serve, refuse, and
//! delete with their message; in memory and on disk.

use crate::common::{eventually, Client, TestServer, Ws};
use serde_json::{json, Value};

/// A PNG signature and a little more: enough for sniffing.
fn png() -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R']);
    bytes.extend(std::iter::repeat_n(7u8, 100));
    bytes
}

async fn upload(client: &Client, name: &str, bytes: Vec<u8>) -> Value {
    let response = client.upload(name, bytes).await;
    assert_eq!(response.status(), 200, "upload {name}");
    response.json().await.unwrap()
}

async fn send_with(ws: &mut Ws, client_id: &str, body: &str, ids: &[&Value]) -> Value {
    ws.send_json(json!({
        "type": "send", "channel": "general", "client_id": client_id, "body": body,
        "attachments": ids.iter().map(|a| a["id"].clone()).collect::<Vec<_>>(),
    }))
    .await;
    loop {
        let frame = ws.next_json().await;
        if frame["type"] == "ack" || frame["type"] == "error" {
            return frame;
        }
    }
}

fn url(attachment: &Value) -> String {
    format!("/files/{}/x", attachment["id"].as_str().unwrap())
}

#[tokio::test]
async fn an_image_is_uploaded_attached_and_served_with_safe_headers() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut b = bob.connect().await;
    b.join("general", None).await;
    let mut a = alice.connect().await;

    let image = upload(&alice, "../holiday photo.png", png()).await;
    assert_eq!(
        image["name"], "holiday photo.png",
        "only the last path component"
    );
    assert_eq!(image["size"], png().len());
    assert_eq!(image["content_type"], "image/png");
    assert_eq!(image["id"].as_str().unwrap().len(), 32);
    let pending = bob.get(&url(&image)).await;
    assert_eq!(
        pending.status(),
        404,
        "an unsent upload is nobody's to fetch"
    );

    let ack = send_with(&mut a, "m1", "look", &[&image]).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let message = b.until("message").await;
    assert_eq!(message["attachments"], json!([image]));

    let response = bob.get(&url(&image)).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "inline; filename*=UTF-8''holiday%20photo%2Epng"
    );
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), png());
    assert_eq!(server.anonymous().get(&url(&image)).await.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn a_file_that_claims_to_be_an_image_is_served_as_a_download() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    let page = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let fake = upload(&alice, "cute.png", page.clone()).await;
    assert_ne!(fake["content_type"], "image/png");
    send_with(&mut a, "m1", "see", &[&fake]).await;
    let response = alice.get(&url(&fake)).await;
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), page);
    server.stop().await;
}

#[tokio::test]
async fn refused_uploads_and_attachments_store_nothing_and_say_why() {
    let server = TestServer::start_with(|c| {
        c.max_attachment_bytes = 1000;
        c.attachments_total_bytes = 1500;
        c.max_attachments = 2;
    })
    .await;
    let (alice, bob) = server.alice_and_bob_in_general().await;

    let response = alice.upload("big.bin", vec![1; 1001]).await;
    assert_eq!(response.status(), 413);
    let err: Value = response.json().await.unwrap();
    assert_eq!(err["code"], "too_large");
    assert!(err["message"].as_str().unwrap().contains("limit"));
    let response = alice.upload("empty", Vec::new()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(server.anonymous().upload("x", png()).await.status(), 401);
    let cross_site = alice
        .http
        .post(server.url("/api/upload"))
        .header("origin", "https://evil.example")
        .body(png())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    // The refused 1001 bytes took no space: 1000 + 400 fit under 1500.
    let first = upload(&alice, "a", vec![1; 1000]).await;
    let second = upload(&alice, "b", vec![2; 400]).await;
    let full = alice.upload("c", vec![3; 200]).await;
    assert_eq!(full.status(), 503);

    let mut bws = bob.connect().await;
    let err = send_with(&mut bws, "b1", "mine now", &[&first]).await;
    assert_eq!(err["code"], "bad_attachment");
    assert!(err["message"].as_str().unwrap().contains("not one of your"));
    let mut aws = alice.connect().await;
    let third = json!({ "id": "0".repeat(32) });
    let err = send_with(&mut aws, "a1", "too many", &[&first, &second, &third]).await;
    assert_eq!(err["code"], "bad_attachment");
    assert!(err["message"].as_str().unwrap().contains("at most 2"));
    let err = send_with(&mut aws, "a2", "bad id", &[&json!({ "id": "../etc" })]).await;
    assert_eq!(err["code"], "invalid_frame");
    // Still Alice's to send, after all the refusals.
    let ack = send_with(&mut aws, "a3", "both", &[&first, &second]).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    server.stop().await;
}

#[tokio::test]
async fn files_go_with_their_message_when_deleted_or_out_of_the_window() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let doomed = upload(&alice, "doomed.png", png()).await;
    let ack = send_with(&mut a, "m0", "soon deleted", &[&doomed]).await;
    let aged = upload(&alice, "aged.png", png()).await;
    send_with(&mut a, "m1", "soon old", &[&aged]).await;
    assert_eq!(alice.get(&url(&doomed)).await.status(), 200);

    a.send_json(json!({ "type": "delete", "channel": "general", "id": ack["seq"] }))
        .await;
    // The file goes once the deletion is committed, as viewers hear of it.
    a.until("deleted").await;
    assert_eq!(alice.get(&url(&doomed)).await.status(), 404);

    for i in 0..100 {
        a.send_message("general", &format!("f{i}"), "filler").await;
        a.until("ack").await;
    }
    assert_eq!(alice.get(&url(&aged)).await.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn with_a_data_dir_files_survive_a_restart_and_are_deleted_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let with_dir = |config: &mut server::Config| config.data_dir = Some(data_dir.clone());
    let server = TestServer::start_with(with_dir).await;
    let mut alice = server.anonymous();
    alice.register("alice").await;
    alice.create_channel("general").await;
    let mut a = alice.connect().await;
    let kept = upload(&alice, "kept.png", png()).await;
    let ack = send_with(&mut a, "m0", "kept", &[&kept]).await;
    let never_sent = upload(&alice, "draft.png", png()).await;
    let on_disk = |a: &Value| dir.path().join("files").join(a["id"].as_str().unwrap());
    assert!(on_disk(&kept).exists() && on_disk(&never_sent).exists());
    drop(a);
    server.stop().await;

    let server = TestServer::start_with(with_dir).await;
    let alice = Client::with_cookie(server.addr, alice.cookie.as_deref().unwrap());
    let response = alice.get(&url(&kept)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), png());
    assert!(
        !on_disk(&never_sent).exists(),
        "unsent uploads do not outlive a restart"
    );
    let mut a = alice.connect().await;
    a.join("general", None).await;
    a.send_json(json!({ "type": "delete", "channel": "general", "id": ack["seq"] }))
        .await;
    // The file goes once the deletion is committed, as viewers hear of it.
    a.until("deleted").await;
    assert_eq!(alice.get(&url(&kept)).await.status(), 404);
    eventually("the deleted message's file leaves the disk", || {
        !on_disk(&kept).exists()
    })
    .await;
    server.stop().await;
}

/// One user cannot fill the space every user shares: their files count
/// against their own quota, which frees up as their messages go.
#[tokio::test]
async fn one_users_uploads_are_bounded_by_a_quota_that_frees_with_their_messages() {
    let server = TestServer::start_with(|c| {
        c.attachments_per_user_bytes = 300;
        c.attachments_total_bytes = 10_000;
    })
    .await;
    let (alice, bob) = server.alice_and_bob_in_general().await;
    let mut a = alice.connect().await;
    a.join("general", None).await;
    let first = upload(&alice, "one.bin", vec![1u8; 200]).await;
    let refused = alice.upload("two.bin", vec![2u8; 200]).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("one person may keep 300 bytes"),
        "{body}"
    );
    upload(&bob, "bobs.bin", vec![3u8; 200]).await;
    // Her message with the file goes: so does its weight.
    let ack = send_with(&mut a, "q1", "a file", &[&first]).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let id = ack["seq"].as_u64().unwrap();
    a.send_json(json!({ "type": "delete", "channel": "general", "id": id }))
        .await;
    assert_eq!(a.until("deleted").await["id"], id);
    upload(&alice, "two.bin", vec![2u8; 200]).await;
    server.stop().await;
}

/// Uploads still arriving count against their user's quota from their
/// first byte (their declared size): one user cannot hold many large
/// bodies in memory at once by never finishing them.
#[tokio::test]
async fn uploads_in_progress_count_against_the_quota() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start_with(|c| c.attachments_per_user_bytes = 300).await;
    let alice = server.user("alice").await;
    let cookie = alice.cookie.clone().unwrap();
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/upload?name=slow.bin HTTP/1.1\r\nHost: flack\r\nCookie: {cookie}\r\n\
         Content-Length: 250\r\nExpect: 100-continue\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    // The server asks for the body once it starts reading it: by then it
    // has reserved the 250 declared bytes of her 300.
    let mut continued = [0u8; 25];
    tokio::io::AsyncReadExt::read_exact(&mut slow, &mut continued)
        .await
        .unwrap();
    assert!(continued.starts_with(b"HTTP/1.1 100 Continue"));
    slow.write_all(&[1u8; 100]).await.unwrap();
    let refused = alice.upload("quick.bin", vec![2u8; 100]).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded", "{body}");
    drop(slow);
    // Its reservation goes with it.
    let mut stored = None;
    for _ in 0..50 {
        let response = alice.upload("quick.bin", vec![2u8; 100]).await;
        if response.status() == 200 {
            stored = Some(response);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(stored.is_some(), "the dropped upload freed its reservation");
    server.stop().await;
}
