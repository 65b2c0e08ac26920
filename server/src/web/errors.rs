//! The one mapping from the hub's refusals (`HubError`) to wire codes: the
//! `code` of an HTTP refusal (`ApiErrorCode`, whose HTTP status follows
//! from it) and of an `error` frame (`ErrorCode`).
//!
//! Invariant: a refusal has the same code over both, wherever both
//! protocols have it; the table's test lists the few that differ and why.

use crate::chat::FileError;
use crate::chat::HubError;
use app::error::{ApiError, ApiErrorCode};
use app::protocol::{ErrorCode, ErrorFrame};

/// `err`'s codes over HTTP and over the WebSocket.
pub fn codes(err: &HubError) -> (ApiErrorCode, ErrorCode) {
    use ApiErrorCode as Http;
    use ErrorCode as Ws;
    match err {
        HubError::NameTaken(_) => (Http::NameTaken, Ws::NameTaken),
        HubError::ChannelExists(_) => (Http::ChannelExists, Ws::ChannelExists),
        HubError::UnknownChannel(_) => (Http::UnknownChannel, Ws::UnknownChannel),
        HubError::UnknownUser => (Http::NotSignedIn, Ws::NotSignedIn),
        HubError::Busy | HubError::StoreDown => (Http::Unavailable, Ws::Unavailable),
        HubError::UnknownMessage(_) => (Http::NotFound, Ws::UnknownMessage),
        HubError::NotAuthor(_) => (Http::Forbidden, Ws::Forbidden),
        HubError::NoSuchUser(_) => (Http::NotFound, Ws::NotFound),
        HubError::Reserved | HubError::Invalid(_) => (Http::InvalidInput, Ws::InvalidFrame),
        HubError::ClientIdReused(_) => (Http::InvalidInput, Ws::ClientIdReused),
        HubError::TooManyConversations(_) | HubError::TooManyChannels(_) => {
            (Http::QuotaExceeded, Ws::QuotaExceeded)
        }
        HubError::Attachment(e) => match e {
            FileError::TooLarge { .. } => (Http::TooLarge, Ws::BadAttachment),
            FileError::Full => (Http::Unavailable, Ws::Unavailable),
            FileError::Quota { .. } => (Http::QuotaExceeded, Ws::QuotaExceeded),
            FileError::Io(_) => (Http::Internal, Ws::Internal),
            FileError::Empty | FileError::NotYours(_) | FileError::TooMany { .. } => {
                (Http::InvalidInput, Ws::BadAttachment)
            }
        },
    }
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> Self {
        ApiError::new(codes(&err).0, err.to_string())
    }
}

/// The `error` frame refusing a frame with `err`.
pub fn error_frame(err: &HubError) -> ErrorFrame {
    ErrorFrame::new(codes(err).1, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::InputError;

    /// One of every refusal.
    fn every_refusal() -> Vec<HubError> {
        vec![
            HubError::NameTaken("alice".into()),
            HubError::ChannelExists("general".into()),
            HubError::UnknownChannel("nowhere".into()),
            HubError::UnknownUser,
            HubError::Busy,
            HubError::StoreDown,
            HubError::UnknownMessage(9),
            HubError::NotAuthor("edit"),
            HubError::Attachment(FileError::Empty),
            HubError::Attachment(FileError::TooLarge { got: 2, max: 1 }),
            HubError::Attachment(FileError::Full),
            HubError::Attachment(FileError::Quota {
                held: 1,
                got: 1,
                max: 1,
            }),
            HubError::Attachment(FileError::NotYours("x".into())),
            HubError::Attachment(FileError::TooMany { got: 5, max: 4 }),
            HubError::Attachment(FileError::Io("disk".into())),
            HubError::NoSuchUser("nobody".into()),
            HubError::Reserved,
            HubError::ClientIdReused("c1".into()),
            HubError::Invalid(InputError::Empty { field: "message" }),
            HubError::TooManyConversations(1),
            HubError::TooManyChannels(1),
        ]
    }

    fn name<T: serde::Serialize>(code: T) -> String {
        serde_json::to_value(code)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_refusal_has_the_same_code_over_http_and_the_socket_where_both_have_it() {
        // Where the two differ, and why: a frame is refused as a frame;
        // attachments have one frame code; a message is not an HTTP thing.
        let differ = [
            ("invalid_input", "invalid_frame"),
            ("invalid_input", "client_id_reused"),
            ("invalid_input", "bad_attachment"),
            ("too_large", "bad_attachment"),
            ("not_found", "unknown_message"),
        ];
        for err in every_refusal() {
            let (http, ws) = codes(&err);
            let (http, ws) = (name(http), name(ws));
            assert!(
                http == ws || differ.contains(&(http.as_str(), ws.as_str())),
                "{err:?}: {http} over HTTP, {ws} on the socket"
            );
        }
    }

    #[test]
    fn only_a_failure_inside_the_server_is_internal_and_a_server_error() {
        for err in every_refusal() {
            let (http, ws) = codes(&err);
            let internal = matches!(err, HubError::Attachment(FileError::Io(_)));
            assert_eq!(http == ApiErrorCode::Internal, internal, "{err:?}");
            assert_eq!(ws == ErrorCode::Internal, internal, "{err:?}");
            let status = http.http_status();
            assert_eq!(
                status >= 500,
                internal || http == ApiErrorCode::Unavailable,
                "{err:?}"
            );
            assert_eq!(error_frame(&err).message, err.to_string());
        }
    }
}
