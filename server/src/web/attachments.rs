//! The HTTP side of attachments: `POST /api/upload?name=…` takes a file's
//! bytes as the request body and answers with its `Attachment`;
//! `GET /files/<id>/<name>` serves an attached file. Both need a session.
//!
//! Invariants:
//! - An upload over the size limit is refused from its `Content-Length`
//!   or, failing that, as soon as the body passes the limit; nothing of it
//!   is kept.
//! - An upload reserves its declared size (or the largest file) against
//!   its user's quota and the total before its body is read (`Uploading`),
//!   so bodies still arriving never hold more than that, however many a
//!   client opens.
//! - Served files carry the type found by sniffing (images) or
//!   `application/octet-stream`, `Content-Disposition` (inline only for
//!   images), `nosniff` (the global headers) and a CSP that lets nothing
//!   run, so no upload can act as a page of this origin.

use crate::blobs::{Content, FileLimits};
use crate::chat::{FileError, HubError};
use crate::hub::Hub;
use crate::web::identity::session_from_headers;
use crate::web::limits::{retry_after_ms, Limits};
use crate::web::policy::{body_stalled, refusal};
use app::error::{ApiError, ApiErrorCode};
use app::model::{AttachmentId, UserId, UserInfo};
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
    pub uploading: Arc<Uploading>,
}

/// The bytes of uploads being received, per user and in all: reserved
/// before a body is read (its declared length, or the largest file), so
/// uploads in progress never hold more than one user's quota per user, or
/// the attachments' total, however many a client opens.
#[derive(Default)]
pub struct Uploading {
    held: std::sync::Mutex<(u64, std::collections::HashMap<UserId, u64>)>,
}

/// Bytes reserved for one upload being received; freed when dropped.
struct Reserved {
    uploading: Arc<Uploading>,
    user: UserId,
    bytes: u64,
}

impl Uploading {
    fn reserve(
        self: &Arc<Self>,
        user: UserId,
        bytes: u64,
        limits: &FileLimits,
    ) -> Result<Reserved, FileError> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_user) = &mut *held;
        let mine = by_user.get(&user).copied().unwrap_or(0);
        if mine + bytes > limits.per_user_bytes {
            return Err(FileError::Quota {
                held: mine,
                got: bytes,
                max: limits.per_user_bytes,
            });
        }
        if *total + bytes > limits.total_bytes {
            return Err(FileError::Full);
        }
        *total += bytes;
        *by_user.entry(user).or_default() += bytes;
        Ok(Reserved {
            uploading: self.clone(),
            user,
            bytes,
        })
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut held = self
            .uploading
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (total, by_user) = &mut *held;
        *total = total.saturating_sub(self.bytes);
        if let Some(mine) = by_user.get_mut(&self.user) {
            *mine = mine.saturating_sub(self.bytes);
            if *mine == 0 {
                by_user.remove(&self.user);
            }
        }
    }
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
    let reserve = declared.unwrap_or(max as u64);
    let _reserved = match state
        .uploading
        .reserve(user.user_id, reserve, state.hub.file_limits())
    {
        Ok(reserved) => reserved,
        Err(err) => return refusal(ApiError::from(HubError::Attachment(err))),
    };
    let bytes =
        match tokio::time::timeout(state.upload_timeout, axum::body::to_bytes(body, max)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if !body_stalled(&e) => return too_large(max),
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
