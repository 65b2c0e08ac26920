//! The HTTP side of attachments: `POST /api/upload?name=…` takes a file's
//! bytes as the request body and answers with its `Attachment`;
//! `GET /files/<id>/<name>` serves an attached file. Both need a session.
//!
//! Invariants:
//! - An upload over the size limit is refused from its `Content-Length`
//!   or, failing that, as soon as the body passes the limit; nothing of it
//!   is kept.
//! - Served files carry the type found by sniffing (images) or
//!   `application/octet-stream`, `Content-Disposition` (inline only for
//!   images), `nosniff` (the global headers) and a CSP that lets nothing
//!   run, so no upload can act as a page of this origin.

use crate::files::Content;
use crate::hub::Hub;
use crate::identity::session_from_headers;
use crate::limits::{retry_after_ms, Limits};
use crate::policy::refusal;
use app::error::{ApiError, ApiErrorCode};
use app::model::{AttachmentId, UserInfo};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Clone)]
pub struct FilesState {
    pub hub: Hub,
    pub limits: Arc<Limits>,
    /// An upload's whole body must arrive within this long.
    pub upload_timeout: std::time::Duration,
}

#[derive(serde::Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

fn signed_in(hub: &Hub, headers: &HeaderMap) -> Option<UserInfo> {
    session_from_headers(headers).and_then(|hash| hub.user_by_session(&hash))
}

fn not_signed_in() -> Response {
    refusal(ApiError::new(
        ApiErrorCode::NotSignedIn,
        "sign in before uploading or downloading files",
    ))
}

fn too_large(max: usize) -> Response {
    refusal(ApiError::new(
        ApiErrorCode::TooLarge,
        format!(
            "the file is larger than the limit of {:.1} MB",
            max as f64 / 1e6
        ),
    ))
}

/// Whether reading a body failed because it stopped arriving (the body
/// timeout), rather than because it passed the size limit.
fn stalled(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn timed_out(limit: std::time::Duration) -> Response {
    refusal(ApiError::new(
        ApiErrorCode::TimedOut,
        format!(
            "the upload stalled or took longer than {} s; try again",
            limit.as_secs()
        ),
    ))
}

/// `POST /api/upload?name=cat.png` with the file as the body.
pub async fn upload(
    State(state): State<FilesState>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(user) = signed_in(&state.hub, &headers) else {
        return not_signed_in();
    };
    if let Err(wait) = state.limits.check_message(user.user_id) {
        let ms = retry_after_ms(wait);
        return refusal(ApiError::rate_limited(
            "you are uploading too fast; slow down",
            ms,
        ));
    }
    let max = state.hub.file_limits().max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return too_large(max);
    }
    let bytes =
        match tokio::time::timeout(state.upload_timeout, axum::body::to_bytes(body, max)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if !stalled(&e) => return too_large(max),
            // Stalled, or too slow in all: nothing is kept, the slot is freed.
            Ok(Err(_)) | Err(_) => return timed_out(state.upload_timeout),
        };
    let name = query.name.unwrap_or_default();
    match state.hub.upload(&user, &name, bytes).await {
        Ok(attachment) => axum::Json(attachment).into_response(),
        Err(err) => refusal(ApiError::from(err)),
    }
}

/// `GET /files/<id>/<name>`: the name is for people and saved files; the
/// id alone finds the file.
pub async fn download(
    State(state): State<FilesState>,
    Path((id, _name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(viewer) = signed_in(&state.hub, &headers) else {
        return not_signed_in();
    };
    let not_found = || {
        refusal(ApiError::new(
            ApiErrorCode::NotFound,
            "no such file (it may have been deleted with its message)",
        ))
    };
    let Ok(id) = AttachmentId::parse(&id) else {
        return not_found();
    };
    // Only to someone who may see the channel the file's message is in:
    // a link that leaks is not a key.
    let Some((meta, content)) = state.hub.file(Some(&viewer), &id).await else {
        return not_found();
    };
    let body = match content {
        Content::InMemory(bytes) => Body::from(bytes),
        Content::OnDisk(path) => match tokio::fs::read(path).await {
            Ok(bytes) => Body::from(bytes),
            Err(_) => return not_found(),
        },
    };
    let (content_type, disposition) = if meta.is_image() {
        (meta.content_type.as_str(), "inline")
    } else {
        ("application/octet-stream", "attachment")
    };
    let filename =
        percent_encoding::utf8_percent_encode(&meta.name, percent_encoding::NON_ALPHANUMERIC);
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type.to_owned());
    set(
        header::CONTENT_DISPOSITION,
        format!("{disposition}; filename*=UTF-8''{filename}"),
    );
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox".to_owned(),
    );
    // An id names one file forever.
    set(
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable".to_owned(),
    );
    response
}
