//! `ApiError`: the one error type that crosses the HTTP boundary of the
//! server functions, as JSON `{"code": "...", "message": "..."}` with a
//! matching 4xx/5xx status.
//!
//! Invariant: `message` is written for the person using the app; `code` is
//! for programs, and the HTTP status follows from it (`http_status`; the
//! server enforces this for every `/api` response, including errors that
//! server_fn raises before our code runs, such as an undecodable body).

use crate::model::InputError;
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorCode {
    /// A field broke its rule (DESIGN §7); the message names the rule.
    InvalidInput,
    /// The request itself was malformed (missing field, wrong type).
    BadRequest,
    /// The display name is taken (ignoring case and normalization).
    NameTaken,
    /// A channel with that name exists (ignoring case and normalization).
    ChannelExists,
    /// No valid session cookie: register first.
    NotSignedIn,
    /// A cross-site request to an endpoint that changes state.
    Forbidden,
    UnknownChannel,
    RateLimited,
    /// The server cannot take this now (its store is behind); retry.
    Unavailable,
    /// The upload is larger than the server takes.
    TooLarge,
    /// The request's body stalled or took too long; nothing was kept.
    TimedOut,
    /// No such file (or not one you may see).
    NotFound,
    /// This user reached a limit on what one person may hold (private
    /// conversations started, attachment bytes); nothing was made.
    QuotaExceeded,
    /// The browser could not reach the server.
    Unreachable,
    Internal,
}

impl ApiErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidInput | Self::BadRequest => 400,
            Self::NotSignedIn => 401,
            Self::Forbidden | Self::QuotaExceeded => 403,
            Self::UnknownChannel | Self::NotFound => 404,
            Self::TooLarge => 413,
            Self::TimedOut => 408,
            Self::NameTaken | Self::ChannelExists => 409,
            Self::RateLimited => 429,
            Self::Unreachable | Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ApiErrorCode,
    pub message: String,
    /// With `rate_limited`: when to try again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A `rate_limited` refusal that says when to retry.
    pub fn rate_limited(message: impl Into<String>, retry_after_ms: u64) -> Self {
        Self {
            retry_after_ms: Some(retry_after_ms),
            ..Self::new(ApiErrorCode::RateLimited, message)
        }
    }
}

impl From<InputError> for ApiError {
    fn from(err: InputError) -> Self {
        Self::new(ApiErrorCode::InvalidInput, err.to_string())
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => Self::new(
                ApiErrorCode::BadRequest,
                format!("the request body is not what this endpoint takes: {e}"),
            ),
            // On the server, "deserialization" means the request body did not decode.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(e) => Self::new(
                ApiErrorCode::BadRequest,
                format!("the request body is not what this endpoint takes: {e}"),
            ),
            ServerFnErrorErr::Request(_) => Self::new(
                ApiErrorCode::Unreachable,
                "could not reach the server; check your connection and try again",
            ),
            other => Self::new(
                ApiErrorCode::Internal,
                format!("something went wrong: {other}"),
            ),
        }
    }
}
