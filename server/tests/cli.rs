//! The server binary as an operator meets it: its command line, its exit
//! codes, and graceful shutdown on SIGTERM.

mod common;

use common::Client;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_server");

/// Starts the binary on a free loopback port and returns it with its address.
fn spawn_server() -> (Child, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--log", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("server prints its address");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    (child, addr)
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("wait works") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

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
    let (mut child, addr) = spawn_server();
    let mut alice = Client::new(addr);
    assert_eq!(alice.register("alice").await.status(), 200);
    let mut ws = alice.connect().await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

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
