//! A channel's topic: one line of inline Markdown shown in its header.

use super::*;

/// Longest topic, in Unicode scalar values, after trimming.
pub const TOPIC_MAX_CHARS: usize = 250;

/// A topic's text: 1–250 characters on one line, trimmed, no control or
/// text-direction characters. Setting an empty topic clears it
/// (`TopicText::parse_optional`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicText(String);
string_newtype!(TopicText);

impl TopicText {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let field = "topic";
        let text = raw.trim();
        if text.is_empty() {
            return Err(InputError::Empty { field });
        }
        let got = text.chars().count();
        if got > TOPIC_MAX_CHARS {
            return Err(InputError::TooLong {
                field,
                got,
                max: TOPIC_MAX_CHARS,
            });
        }
        if text.chars().any(char::is_control) {
            return Err(InputError::ControlCharacter { field });
        }
        if text.chars().any(is_invisible_or_bidi) {
            return Err(InputError::InvisibleCharacter { field });
        }
        Ok(Self(text.to_owned()))
    }

    /// What a "set topic" form sends: blank clears the topic (`None`).
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, InputError> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        Self::parse(raw).map(Some)
    }
}

/// A channel's topic as set: its text, the text rendered (inline Markdown,
/// sanitized by the server; empty when plain), who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Topic {
    pub text: TopicText,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub html: String,
    pub set_by: DisplayName,
    pub set_at: Timestamp,
}
