use super::io::within;
use super::viewer::MAX_BATCH;
use super::*;
use crate::config::Config;
use crate::hub::HubLimits;
use app::model::{ClientId, MessageBody};
use clap::Parser;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A socket that never delivers anything and accepts every frame.
struct Quiet;

impl Stream for Quiet {
    type Item = Result<WsMessage, axum::Error>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Pending
    }
}

impl Sink<WsMessage> for Quiet {
    type Error = axum::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, _: WsMessage) -> Result<(), axum::Error> {
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// A socket driven by the test: frames pushed into `input` arrive as
/// the client's, and every frame the session writes comes out of
/// `output` as text.
struct Scripted {
    input: futures::channel::mpsc::UnboundedReceiver<WsMessage>,
    output: futures::channel::mpsc::UnboundedSender<String>,
}

impl Stream for Scripted {
    type Item = Result<WsMessage, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.input.poll_next_unpin(cx).map(|frame| frame.map(Ok))
    }
}

impl Sink<WsMessage> for Scripted {
    type Error = axum::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, frame: WsMessage) -> Result<(), axum::Error> {
        if let WsMessage::Text(text) = frame {
            let _ = self.output.unbounded_send(text.as_str().to_owned());
        }
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
}

fn settings() -> SessionSettings {
    SessionSettings {
        ping_interval: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(60),
        write_timeout: Duration::from_secs(10),
    }
}

/// `within` arms its timer only for a write that has to wait, and such
/// a write still either finishes or ends the session.
#[tokio::test]
async fn a_write_is_timed_only_when_it_waits_and_a_stuck_one_ends_the_session() {
    let limit = Duration::from_secs(10);
    let at_once = within(limit, async { Ok::<(), String>(()) });
    assert!(matches!(at_once.await, Ok(())));
    let refused = within(limit, async { Err::<(), _>("reset by peer") });
    assert!(matches!(refused.await, Err(Ended::Transport(e)) if e == "reset by peer"));
    // Not done on the first poll: goes on under the timer, and finishes.
    let waits = within(limit, async {
        tokio::task::yield_now().await;
        Ok::<(), String>(())
    });
    assert!(matches!(waits.await, Ok(())));
    // Never done: the timer ends it.
    let stuck = within(
        Duration::from_millis(50),
        std::future::pending::<Result<(), String>>(),
    );
    assert!(matches!(stuck.await, Err(Ended::WriteTimeout)));
}

/// Deliveries are polled first, but a channel that keeps the live
/// queue full must not keep the client's own frames waiting: after
/// one full batch, the socket gets its turn.
#[tokio::test]
async fn a_busy_channel_does_not_starve_the_clients_own_frames() {
    let hub = Hub::new(HubLimits::default());
    let name = |n: &str| app::model::DisplayName::parse(n).unwrap();
    let (alice, token, _) = hub.register(name("alice"), None).unwrap();
    let session = token.expect("a new user's session").hash();
    let (bob, _, _) = hub.register(name("bob"), None).unwrap();
    let general = ChannelName::parse("general").unwrap();
    hub.create_channel(&bob, general.clone()).unwrap();
    let (to_session, input) = futures::channel::mpsc::unbounded();
    let (output, mut written) = futures::channel::mpsc::unbounded();
    let limits = Arc::new(Limits::from_config(&Config::parse_from([
        "flack",
        "--frame-rate",
        "0",
    ])));
    let metrics = Arc::new(crate::web::metrics::Metrics::default());
    let session = tokio::spawn(run(
        Scripted { input, output },
        hub.clone(),
        alice,
        session,
        settings(),
        limits,
        metrics,
        CancellationToken::new(),
    ));
    let join = r#"{"type":"join","channel":"general"}"#;
    to_session
        .unbounded_send(WsMessage::Text(join.into()))
        .unwrap();
    while let Some(frame) = written.next().await {
        if frame.starts_with(r#"{"type":"joined""#) {
            break;
        }
    }
    // 300 messages queue up before the session runs again (this test
    // runs on one thread), and a ping waits behind them.
    for n in 0..300 {
        let body = MessageBody::parse(&format!("m{n}")).unwrap();
        let id = ClientId::parse(&format!("b{n}")).unwrap();
        let draft = Draft {
            channel: general.clone(),
            client_id: id,
            body,
            attachments: Vec::new(),
            reply_to: None,
        };
        hub.post(&bob, draft).await.unwrap();
    }
    let ping = r#"{"type":"ping"}"#;
    to_session
        .unbounded_send(WsMessage::Text(ping.into()))
        .unwrap();
    let mut before_pong = 0;
    while let Some(frame) = written.next().await {
        if frame.starts_with(r#"{"type":"pong""#) {
            break;
        }
        before_pong += usize::from(frame.starts_with(r#"{"type":"message""#));
    }
    assert!(
        before_pong <= MAX_BATCH,
        "the ping was answered after {before_pong} deliveries"
    );
    session.abort();
}

/// Each connection is one task holding this future: keep it small
/// (memory per connection, BENCHMARKS.md).
#[test]
fn a_session_task_stays_small() {
    let hub = Hub::new(HubLimits::default());
    let (user, token, _) = hub
        .register(app::model::DisplayName::parse("alice").unwrap(), None)
        .unwrap();
    let limits = Arc::new(Limits::from_config(&Config::parse_from(["flack"])));
    let metrics = Arc::new(crate::web::metrics::Metrics::default());
    let session = run(
        Quiet,
        hub,
        user,
        token.expect("a new user's session").hash(),
        settings(),
        limits,
        metrics,
        CancellationToken::new(),
    );
    let size = std::mem::size_of_val(&session);
    eprintln!("session future: {size} bytes");
    // Every connection holds this future for its whole life (idle ones
    // too): the rare paths are boxed to keep it near 2 KiB. A change
    // that pushes it past the bound should box its own await.
    assert!(size < 3 * 1024, "session future is {size} bytes");
}
