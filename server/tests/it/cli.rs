//! The server binary as an operator meets it: its command line, its exit
//! codes, and graceful shutdown on SIGTERM.

use crate::common::{signal, spawn_server, wait_for_exit, Client};
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_server");

#[test]
fn help_describes_the_flags_and_exits_zero() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--log",
        "--allowed-origin",
        "--max-frame-bytes",
        "FLACK_ADDR",
    ] {
        assert!(text.contains(flag), "--help mentions {flag}");
    }
}

#[test]
fn an_unknown_flag_is_reported_and_exits_non_zero() {
    let output = Command::new(BIN).arg("--frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--frobnicate"));
}

#[test]
fn an_invalid_address_is_reported_and_exits_non_zero() {
    let output = Command::new(BIN)
        .args(["--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not-an-address"));
}

#[test]
fn a_port_in_use_is_reported_and_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(BIN)
        .args(["--addr", &addr, "--log", "off"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot listen on") && stderr.contains(&addr),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_closes_connections_with_going_away_and_exits_zero() {
    let (mut child, addr) = spawn_server(&[]);
    let mut alice = Client::new(addr);
    assert_eq!(alice.register("alice").await.status(), 200);
    let mut ws = alice.connect().await;

    signal(&child, "TERM");

    let close = loop {
        match ws.next_message().await {
            Message::Close(frame) => break frame,
            _ => continue,
        }
    };
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    let exit =
        tokio::task::spawn_blocking(move || wait_for_exit(&mut child, Duration::from_secs(5)))
            .await
            .unwrap();
    assert_eq!(exit.map(|s| s.code()), Some(Some(0)), "exits 0 within 5 s");
}
