//! The HTTP edge's policies, applied to every request before the app sees
//! it: same-origin checks for anything that changes state, rate limits on
//! registration, request size, security headers, and the status code of
//! refused server-function calls.
//!
//! Invariant: a cross-site request never changes state. Browsers mark
//! cross-site requests with `Origin` (and `Sec-Fetch-Site`); a POST to
//! `/api/*` or a `/ws` upgrade carrying a foreign one is refused with 403,
//! unless that origin was allowed with `--allowed-origin`. Requests with no
//! such headers come from programs, not browsers, and cannot ride on a
//! user's cookie.

use crate::web::limits::{retry_after_ms, Limits};
use app::error::{ApiError, ApiErrorCode};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What the guard needs: the allowed origins and the limits.
#[derive(Clone)]
pub struct Policy {
    pub allowed_origins: Arc<Vec<String>>,
    pub limits: Arc<Limits>,
    /// Largest request body read (the same limit the app enforces).
    pub max_body_bytes: usize,
    /// A server function's whole body must arrive within this (it is
    /// small): a trickle cannot hold a connection for long.
    pub body_timeout: std::time::Duration,
    pub clients: Arc<ClientAddress>,
}

/// Who a request comes from, as the per-address limits count it.
///
/// Behind a reverse proxy every connection comes from the proxy, so for
/// a peer among `trusted` the client is the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy (read from the
/// right: a client can write anything to the left of what its proxy
/// appends). From any other peer the header is ignored. IPv6 addresses
/// count by their /64: one subscriber usually holds a whole /64.
#[derive(Debug, Clone, Default)]
pub struct ClientAddress {
    pub trusted: Vec<ipnet::IpNet>,
}

impl ClientAddress {
    /// The client's address (bucketed) for a request from `peer`.
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        bucket(self.forwarded(peer, headers).unwrap_or(peer))
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    fn forwarded(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.is_trusted(peer) {
            return None;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        // From the right: the proxies' hops, then the first that is not
        // a trusted proxy is the client. Something unreadable was written
        // by the client itself: the hop right of it is the nearest known.
        let mut nearest = None;
        for hop in hops.iter().rev() {
            let Some(hop) = parse_hop(hop.trim()) else {
                break;
            };
            nearest = Some(hop);
            if !self.is_trusted(hop) {
                break;
            }
        }
        nearest
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The address per-address limits count: IPv4 as it is, IPv6 by its
/// /64 network (an IPv4-mapped IPv6 address as IPv4).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        v4 => v4,
    }
}

/// Whether a request comes from the server's own origin, an allowed one, or
/// a non-browser client (no `Origin`, no cross-site `Sec-Fetch-Site`).
pub fn same_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let is_allowed = |origin: &str| {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    };
    if let Some(origin) = origin {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let own = host.is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
        });
        if !own && !is_allowed(origin) {
            return false;
        }
    } else if headers.contains_key(header::ORIGIN) {
        return false; // present but not text
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin") | Some("none") => true,
        // A sibling or foreign site: only an explicitly allowed origin.
        Some(_) => origin.is_some_and(is_allowed),
    }
}

/// The status and `Retry-After` an `ApiError` calls for: the one place the
/// code-to-status rule is applied at the edge.
fn apply_error(err: &ApiError, status: &mut StatusCode, headers: &mut HeaderMap) {
    if let Ok(code_status) = StatusCode::from_u16(err.code.http_status()) {
        *status = code_status;
    }
    if let Some(ms) = err.retry_after_ms {
        if let Ok(value) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
            headers.insert(header::RETRY_AFTER, value);
        }
    }
}

/// A JSON refusal with the status (and `Retry-After`) its code calls for.
pub fn refusal(err: ApiError) -> Response {
    let mut status = StatusCode::INTERNAL_SERVER_ERROR;
    let mut headers = HeaderMap::new();
    apply_error(&err, &mut status, &mut headers);
    (status, headers, axum::Json(err)).into_response()
}

/// Refuses cross-site state changes and over-eager registration.
pub async fn guard_api(
    State(policy): State<Policy>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") && request.method() != Method::GET {
        if !same_origin(request.headers(), &policy.allowed_origins) {
            return refusal(ApiError::new(
                ApiErrorCode::Forbidden,
                "cross-site requests are not allowed",
            ));
        }
        if path == "/api/register" {
            let client = policy.clients.of(peer.ip(), request.headers());
            if let Err(wait) = policy.limits.check_registration(client) {
                let ms = retry_after_ms(wait);
                return refusal(ApiError::rate_limited(
                    format!(
                        "too many sign-ups from your address; try again in {} s",
                        ms.div_ceil(1000)
                    ),
                    ms,
                ));
            }
        }
    }
    match refuse_unknown_fields(request, policy.max_body_bytes, policy.body_timeout).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

/// Server functions ignore JSON fields they do not take; refuse them here
/// instead, naming the field and what the endpoint takes
/// (`app::api::ENDPOINT_FIELDS`).
async fn refuse_unknown_fields(
    request: Request,
    max_body_bytes: usize,
    body_timeout: std::time::Duration,
) -> Result<Request, Response> {
    let Some((_, known)) = app::api::ENDPOINT_FIELDS
        .iter()
        .find(|(path, _)| *path == request.uri().path())
    else {
        return Ok(request);
    };
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(body_timeout, axum::body::to_bytes(body, max_body_bytes));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if !body_stalled(&e) => {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response())
        }
        Ok(Err(_)) | Err(_) => {
            return Err(refusal(ApiError::new(
                ApiErrorCode::TimedOut,
                "the request's body did not arrive in time",
            )))
        }
    };
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let takes = if known.is_empty() {
                "no fields".to_owned()
            } else {
                known.join(", ")
            };
            return Err(refusal(ApiError::new(
                ApiErrorCode::BadRequest,
                format!("unknown field `{unknown}`; this endpoint takes {takes}"),
            )));
        }
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Whether reading a body failed because it stopped arriving (the body
/// timeout), rather than because it passed the size limit.
pub fn body_stalled(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Largest error body inspected by `status_from_error_code`.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// server_fn answers every failure with 500, even an undecodable request
/// body. Server functions answer with an `ApiError` whose `code` fixes the
/// status, so set it here for every 500 that carries one.
pub async fn status_from_error_code(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, ERROR_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<ApiError>(&bytes) {
        apply_error(&err, &mut parts.status, &mut parts.headers);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The Content-Security-Policy of an HTML page rendered with `nonce`:
/// scripts only from this origin or carrying the page's nonce (Leptos's
/// hydration bootstrap is the one inline script), WASM compilation allowed,
/// no plugins, no framing, no foreign connections. `reload_port` (in
/// `cargo leptos watch`) allows the live-reload socket.
pub fn page_csp(nonce: &str, reload_port: Option<u32>) -> String {
    let reload = reload_port
        .map(|p| format!(" ws://127.0.0.1:{p} ws://localhost:{p}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of everything that is not a page (API answers, files).
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Headers every response carries (a page's own CSP, set while rendering,
/// takes precedence over `DEFAULT_CSP`).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str, fetch_site: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        if let Some(s) = fetch_site {
            h.insert("sec-fetch-site", s.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_and_non_browser_requests_pass() {
        let host = "127.0.0.1:3000";
        assert!(same_origin(
            &headers(Some("http://127.0.0.1:3000"), host, Some("same-origin")),
            &[]
        ));
        assert!(same_origin(&headers(None, host, None), &[]));
    }

    #[test]
    fn foreign_origins_are_refused_unless_allowed() {
        let h = headers(
            Some("https://evil.example"),
            "127.0.0.1:3000",
            Some("cross-site"),
        );
        assert!(!same_origin(&h, &[]));
        assert!(same_origin(&h, &["https://evil.example/".to_string()]));
    }

    #[test]
    fn a_cross_site_fetch_without_origin_is_refused() {
        let h = headers(None, "127.0.0.1:3000", Some("cross-site"));
        assert!(!same_origin(&h, &[]));
        let h = headers(None, "127.0.0.1:3000", Some("same-site"));
        assert!(!same_origin(&h, &[]));
    }

    fn forwarded(list: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for value in list {
            h.append("x-forwarded-for", value.parse().unwrap());
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_nearest_untrusted_hop() {
        let clients = ClientAddress {
            trusted: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        };
        let proxy = ip("10.1.2.3");
        assert_eq!(
            clients.of(proxy, &forwarded(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        // What the client wrote itself is left of what its proxy appended.
        let spoofed = forwarded(&["1.1.1.1, 203.0.113.7", "10.9.9.9"]);
        assert_eq!(clients.of(proxy, &spoofed), ip("203.0.113.7"));
        assert_eq!(
            clients.of(ip("::1"), &forwarded(&["[2001:db8::5]:443"])),
            ip("2001:db8::")
        );
        // No header, or one that does not parse: the proxy itself.
        assert_eq!(clients.of(proxy, &HeaderMap::new()), proxy);
        assert_eq!(clients.of(proxy, &forwarded(&["garbage"])), proxy);
        // Junk written by the client does not hide what its proxy added.
        assert_eq!(
            clients.of(proxy, &forwarded(&["junk, 203.0.113.7"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            clients.of(proxy, &forwarded(&["1.1.1.1, junk, 203.0.113.7"])),
            ip("203.0.113.7")
        );
        // Only hops through trusted proxies: the first one.
        assert_eq!(
            clients.of(proxy, &forwarded(&["10.0.0.9, 10.0.0.8"])),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn forwarded_for_from_anyone_else_is_ignored() {
        let clients = ClientAddress {
            trusted: vec!["10.0.0.1/32".parse().unwrap()],
        };
        let peer = ip("198.51.100.4");
        assert_eq!(clients.of(peer, &forwarded(&["203.0.113.7"])), peer);
        let nobody = ClientAddress::default();
        assert_eq!(
            nobody.of(ip("10.0.0.1"), &forwarded(&["203.0.113.7"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(bucket(ip("2001:db8:1:3::1")), bucket(ip("2001:db8:1:2::1")));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(bucket(ip("192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn the_page_policy_allows_only_own_and_nonced_scripts() {
        let csp = page_csp("abc", None);
        assert!(csp.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
