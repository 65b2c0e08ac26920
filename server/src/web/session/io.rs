//! Writing to the socket: every write bounded by the write timeout, and
//! transport errors turned into the matching close code.

use super::*;

impl<S> Session<S>
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
    <S as Sink<WsMessage>>::Error: std::fmt::Display,
{
    pub(super) async fn transport_error(&mut self, e: axum::Error) -> Result<(), Ended> {
        let text = e.to_string();
        // tungstenite reports an oversized message as a capacity error and
        // a non-UTF-8 text frame as a UTF-8 error; say so with the matching
        // close code before the connection goes.
        let close = if text.contains("Space limit exceeded") || text.contains("too long") {
            Some((CLOSE_TOO_BIG, "message too big"))
        } else if text.contains("UTF-8") || text.contains("utf-8") {
            Some((CLOSE_INVALID_PAYLOAD, "text frames must be UTF-8"))
        } else {
            None
        };
        if let Some((code, reason)) = close {
            let frame = WsMessage::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = timeout(self.settings.write_timeout, self.socket.send(frame)).await;
        }
        Err(Ended::Transport(text))
    }

    pub(super) async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), Ended> {
        self.send_text(frame.to_json().into()).await
    }

    pub(super) async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), Ended> {
        self.send(WsMessage::Text(text)).await
    }

    /// Writes one frame and flushes it (and anything fed before it).
    pub(super) async fn send(&mut self, message: WsMessage) -> Result<(), Ended> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues one frame in the write buffer; it goes out once the buffer
    /// fills or on the next flush.
    pub(super) async fn feed(&mut self, message: WsMessage) -> Result<(), Ended> {
        within(self.settings.write_timeout, self.socket.feed(message)).await
    }

    pub(super) async fn flush(&mut self) -> Result<(), Ended> {
        within(self.settings.write_timeout, self.socket.flush()).await
    }
}

/// Awaits a socket write, ending the session when the client does not take
/// it within the write timeout. Nearly every write is done on its first
/// poll (the socket had room), and those never arm the timer: arming one
/// reads the clock and clones the runtime's handle, twice per delivery
/// (a feed and a flush), for a deadline that is almost never needed.
pub(super) async fn within<E: std::fmt::Display>(
    limit: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Ended> {
    let mut write = std::pin::pin!(write);
    let written = match futures::poll!(write.as_mut()) {
        Poll::Ready(written) => written,
        Poll::Pending => timeout(limit, write)
            .await
            .map_err(|_| Ended::WriteTimeout)?,
    };
    written.map_err(|e| Ended::Transport(e.to_string()))
}
