//! Session tokens and the session cookie.
//!
//! Invariant: a token is 128 random bits that exists in clear only in the
//! client's cookie; the server keeps and compares only its SHA-256 hash.

pub use crate::chat::sessions::{SessionToken, TokenHash};

/// Name of the session cookie (served over plain HTTP).
pub const SESSION_COOKIE: &str = "flack_session";
/// Its name when cookies are `Secure`: the `__Host-` prefix makes the
/// browser accept it only from this very host, `Secure`, with `Path=/`
/// and no `Domain`, so a sibling subdomain cannot plant one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-flack_session";
/// How long the browser keeps the cookie: a year, so closing the browser
/// does not sign anyone out.
const SESSION_MAX_AGE_SECS: i64 = 365 * 24 * 60 * 60;

/// The `Set-Cookie` value carrying `token`.
pub fn cookie(token: &SessionToken, secure: bool) -> String {
    session_cookie(token.secret().to_owned(), secure, SESSION_MAX_AGE_SECS)
}

fn hash_token(token: &str) -> TokenHash {
    TokenHash::of(token)
}

/// A session cookie's `Set-Cookie` value: under its secure name when
/// `secure`, kept `max_age` seconds (0: removed).
fn session_cookie(value: String, secure: bool, max_age: i64) -> String {
    let name = if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    };
    cookie::Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

/// `Set-Cookie` values that remove the session cookie, under both names
/// (a browser may hold the plain one from before cookies were `Secure`).
pub fn removal_cookies(secure: bool) -> Vec<String> {
    let mut removals = vec![session_cookie(String::new(), false, 0)];
    if secure {
        removals.push(session_cookie(String::new(), true, 0));
    }
    removals
}

/// The session cookies a request carries: `(name, value)`.
fn session_cookies(headers: &http::HeaderMap) -> impl Iterator<Item = (String, String)> + '_ {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == SECURE_SESSION_COOKIE || c.name() == SESSION_COOKIE)
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
}

/// The hash of the session token in a request's `Cookie` headers, if any:
/// the `__Host-` one when present (what a subdomain cannot plant), else
/// the plain one.
pub fn session_from_headers(headers: &http::HeaderMap) -> Option<TokenHash> {
    let mut plain = None;
    for (name, value) in session_cookies(headers) {
        if name == SECURE_SESSION_COOKIE {
            return Some(hash_token(&value));
        }
        plain.get_or_insert(value);
    }
    plain.map(|value| hash_token(&value))
}

/// With `Secure` cookies, a request that carries only the plain-named
/// session cookie (set before the `__Host-` name was used): the
/// `Set-Cookie` values that move its token to the `__Host-` name.
pub fn upgraded_cookies(headers: &http::HeaderMap, secure: bool) -> Vec<String> {
    let found: Vec<(String, String)> = session_cookies(headers).collect();
    let only_plain = found.iter().all(|(name, _)| name == SESSION_COOKIE);
    match found.first() {
        Some((_, value)) if secure && only_plain => vec![
            session_cookie(value.clone(), true, SESSION_MAX_AGE_SECS),
            session_cookie(String::new(), false, 0),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_128_bits() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_eq!(a.secret().len(), 32);
        assert_ne!(a.secret(), b.secret());
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_lax() {
        let cookie = cookie(&SessionToken::generate(), false);
        assert!(cookie.starts_with("flack_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("Secure"));
    }

    #[test]
    fn a_secure_cookie_is_host_prefixed_and_wins_over_a_planted_plain_one() {
        let token = SessionToken::generate();
        let cookie = cookie(&token, true);
        assert!(cookie.starts_with("__Host-flack_session="), "{cookie}");
        assert!(cookie.contains("Secure") && cookie.contains("Path=/"));
        assert!(!cookie.contains("Domain"));
        let planted = SessionToken::generate();
        let mut headers = http::HeaderMap::new();
        let both = format!(
            "flack_session={}; __Host-flack_session={}",
            planted.secret(),
            token.secret()
        );
        headers.insert(http::header::COOKIE, both.parse().unwrap());
        assert_eq!(session_from_headers(&headers), Some(token.hash()));
        assert!(upgraded_cookies(&headers, true).is_empty());
    }

    #[test]
    fn a_plain_cookie_from_before_is_moved_to_the_secure_name() {
        let token = SessionToken::generate();
        let mut headers = http::HeaderMap::new();
        let plain = format!("{SESSION_COOKIE}={}", token.secret());
        headers.insert(http::header::COOKIE, plain.parse().unwrap());
        assert_eq!(session_from_headers(&headers), Some(token.hash()));
        let moved = upgraded_cookies(&headers, true);
        assert!(moved[0].starts_with(&format!("__Host-flack_session={}", token.secret())));
        assert!(moved[1].starts_with("flack_session=;") && moved[1].contains("Max-Age=0"));
        assert!(upgraded_cookies(&headers, false).is_empty());
        let removed = removal_cookies(true);
        assert!(removed.iter().all(|c| c.contains("Max-Age=0")));
        assert_eq!(removed.len(), 2);
    }

    #[test]
    fn the_session_is_found_among_other_cookies() {
        let token = SessionToken::generate();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("theme=dark; {SESSION_COOKIE}={}; x=1", token.secret())
                .parse()
                .unwrap(),
        );
        assert_eq!(session_from_headers(&headers), Some(token.hash()));
        assert_eq!(session_from_headers(&http::HeaderMap::new()), None);
    }
}
