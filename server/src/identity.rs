//! Session tokens and the session cookie.
//!
//! Invariant: a token is 128 random bits that exists in clear only in the
//! client's cookie; the server keeps and compares only its SHA-256 hash.

use sha2::{Digest, Sha256};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "flack_session";
/// How long the browser keeps the cookie: a year, so closing the browser
/// does not sign anyone out.
const SESSION_MAX_AGE_SECS: i64 = 365 * 24 * 60 * 60;

/// A freshly issued session token (hex of 16 random bytes).
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log a live credential.
        f.write_str("SessionToken(..)")
    }
}

/// The SHA-256 of a token: what the server stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

/// As hex (how Redis holds it with `--redis-url`).
impl serde::Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_ref())
            .ok()
            .and_then(|bytes| Self::from_bytes(&bytes))
            .ok_or_else(|| serde::de::Error::custom("a session hash is 64 hex digits"))
    }
}

impl SessionToken {
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(hex::encode(bytes))
    }

    pub fn hash(&self) -> TokenHash {
        hash_token(&self.0)
    }

    /// The `Set-Cookie` value carrying this token.
    pub fn cookie(&self, secure: bool) -> String {
        cookie::Cookie::build((SESSION_COOKIE, self.0.clone()))
            .path("/")
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(secure)
            .max_age(cookie::time::Duration::seconds(SESSION_MAX_AGE_SECS))
            .build()
            .to_string()
    }
}

impl TokenHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// A hash read back from storage; `None` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

fn hash_token(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// The hash of the session token in a request's `Cookie` headers, if any.
pub fn session_from_headers(headers: &http::HeaderMap) -> Option<TokenHash> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| hash_token(c.value()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_128_bits() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_eq!(a.0.len(), 32);
        assert_ne!(a.0, b.0);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_lax() {
        let cookie = SessionToken::generate().cookie(false);
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("Secure"));
        assert!(SessionToken::generate().cookie(true).contains("Secure"));
    }

    #[test]
    fn the_session_is_found_among_other_cookies() {
        let token = SessionToken::generate();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("theme=dark; {SESSION_COOKIE}={}; x=1", token.0)
                .parse()
                .unwrap(),
        );
        assert_eq!(session_from_headers(&headers), Some(token.hash()));
        assert_eq!(session_from_headers(&http::HeaderMap::new()), None);
    }
}
