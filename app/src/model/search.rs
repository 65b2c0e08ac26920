//! Searching messages: the query as typed (checked at the edge) and a hit
//! as the server answers it. The server parses and matches (it holds the
//! Unicode tables); the browser only shows what comes back.

use super::*;

/// Longest search query, in Unicode scalar values, after trimming.
pub const SEARCH_QUERY_MAX_CHARS: usize = 200;
/// Most hits one search answers with (newest first).
pub const SEARCH_HITS_MAX: usize = 50;

/// A search as typed: 1–200 characters, trimmed, no control characters.
/// Words, `"quoted phrases"`, `in:#channel` (or `in:@person`, your
/// conversation with them) and `from:@name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SearchQuery(String);
string_newtype!(SearchQuery);

impl SearchQuery {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let field = "search";
        let text = raw.trim();
        if text.is_empty() {
            return Err(InputError::Empty { field });
        }
        let got = text.chars().count();
        if got > SEARCH_QUERY_MAX_CHARS {
            return Err(InputError::TooLong {
                field,
                got,
                max: SEARCH_QUERY_MAX_CHARS,
            });
        }
        if text.chars().any(char::is_control) {
            return Err(InputError::ControlCharacter { field });
        }
        Ok(Self(text.to_owned()))
    }
}

/// One message found: the message as it is now, and where in its `body`
/// the query matched (byte ranges `[start, end)`, in order, for
/// highlighting; empty when only an attachment's name matched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: Message,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<[u32; 2]>,
}
