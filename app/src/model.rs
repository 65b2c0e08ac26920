//! The chat model shared by server and browser: validated names and bodies,
//! channels, messages and timestamps.
//!
//! Invariant: a value of `DisplayName`, `ChannelName`, `MessageBody` or
//! `ClientId` always satisfies its rule. The constructor (`parse`) is the only
//! place each rule lives, and `serde` deserialization goes through it, so a
//! value that crossed the wire is as trustworthy as one built locally.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest display name, in Unicode scalar values, after trimming.
pub const DISPLAY_NAME_MAX_CHARS: usize = 32;
/// Longest channel name, in Unicode scalar values, after trimming.
pub const CHANNEL_NAME_MAX_CHARS: usize = 80;
/// Longest message body, in Unicode scalar values, after trimming trailing whitespace.
pub const MESSAGE_BODY_MAX_CHARS: usize = 4000;
/// Longest `client_id` a sender may choose (a UUID is 36).
pub const CLIENT_ID_MAX_CHARS: usize = 64;
/// How many of a channel's most recent messages the server keeps.
pub const HISTORY_LEN: usize = 100;

/// Why a piece of user input was refused. The `Display` text is shown to users
/// as it is, so it names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {got} characters long; the limit is {max}")]
    TooLong {
        field: &'static str,
        got: usize,
        max: usize,
    },
    #[error("{field} must not contain control characters")]
    ControlCharacter { field: &'static str },
    #[error("{field} must not contain invisible or text-direction characters")]
    InvisibleCharacter { field: &'static str },
    #[error("{field} must not contain '/'")]
    Slash { field: &'static str },
    #[error("{got:?} is not one of the reactions: {}", REACTIONS.join(" "))]
    NotAReaction { got: String },
    #[error("{field} must be 32 lowercase hex digits")]
    NotAnAttachmentId { field: &'static str },
    #[error("a user id is a UUID")]
    NotAUserId,
    #[error("{field} has no visible character")]
    NothingVisible { field: &'static str },
    #[error("{field} has characters Unicode does not assign (or leaves to private use)")]
    Unassigned { field: &'static str },
    #[error("{field} mixes {scripts}, whose letters can look alike; use one of them")]
    MixedScripts {
        field: &'static str,
        scripts: String,
    },
}

/// Characters that are invisible or reorder text. They let two names look the
/// same while differing, or make a name display as something else. The zero
/// width joiner (U+200D) is allowed: emoji sequences need it.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The rule shared by display names and channel names.
fn parse_name(raw: &str, field: &'static str, max: usize) -> Result<String, InputError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(InputError::Empty { field });
    }
    let got = name.chars().count();
    if got > max {
        return Err(InputError::TooLong { field, got, max });
    }
    if name.chars().any(char::is_control) {
        return Err(InputError::ControlCharacter { field });
    }
    if name.chars().any(is_invisible_or_bidi) {
        return Err(InputError::InvisibleCharacter { field });
    }
    Ok(name.to_owned())
}

/// The form under which two names are "the same name": NFKC normalization and
/// case folding (approximated by lower-casing between two normalizations), so
/// `General`, `GENERAL` and `ｇｅｎｅｒａｌ` all clash.
pub fn name_key(name: &str) -> String {
    // ASCII is already in NFKC form and lower-cases within ASCII, so most
    // names skip normalizing: the server takes a channel's key on every post.
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    normalized_key(name)
}

/// `text` lower-cased, for the UI's case-insensitive ordering and prefix
/// matching of names (the people list, mention completion). Identity is
/// `name_key`'s job, on the server. In the browser this is JavaScript's
/// `toLowerCase`: Rust's Unicode case tables were 9 KB of the gzipped WASM,
/// and both follow Unicode's default case mapping, so a list the server
/// rendered and the one the browser hydrates are in the same order.
pub fn lowercase(text: &str) -> String {
    #[cfg(feature = "browser")]
    {
        String::from(js_sys::JsString::from(text).to_lower_case())
    }
    #[cfg(not(feature = "browser"))]
    {
        text.to_lowercase()
    }
}

/// `name_key` for any text: NFKC, lower-case, NFKC again.
fn normalized_key(name: &str) -> String {
    let folded: String = name.nfkc().collect::<String>().to_lowercase();
    folded.nfkc().collect()
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = InputError;
            fn try_from(raw: String) -> Result<Self, InputError> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A user's display name: 1–32 characters after trimming, no control,
/// invisible or text-direction characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);
string_newtype!(DisplayName);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        parse_name(raw, "display name", DISPLAY_NAME_MAX_CHARS).map(Self)
    }
    /// The key under which display names are unique.
    pub fn key(&self) -> String {
        name_key(&self.0)
    }
}

/// What `ChannelName::path` escapes: everything `encodeURIComponent` does.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A channel's name: 1–80 characters after trimming, no control, invisible or
/// text-direction characters and no `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelName(String);
string_newtype!(ChannelName);

impl ChannelName {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let field = "channel name";
        let name = parse_name(raw, field, CHANNEL_NAME_MAX_CHARS)?;
        if name.contains('/') {
            return Err(InputError::Slash { field });
        }
        Ok(Self(name))
    }
    /// The key under which channel names are unique.
    pub fn key(&self) -> String {
        name_key(&self.0)
    }
    /// The path of this channel's page, `/c/<percent-encoded name>`,
    /// encoded as `encodeURIComponent` does so URLs stay readable.
    pub fn path(&self) -> String {
        format!(
            "/c/{}",
            percent_encoding::utf8_percent_encode(&self.0, PATH_SEGMENT)
        )
    }
}

/// A message's text: 1–4000 characters after trimming trailing whitespace.
/// Newlines and tabs are kept (`\r\n` becomes `\n`); other control
/// characters are refused. Leading whitespace is kept for indented code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageBody(String);
string_newtype!(MessageBody);

impl MessageBody {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let field = "message";
        let body = raw.replace("\r\n", "\n");
        let body = body.trim_end();
        if body.is_empty() {
            return Err(InputError::Empty { field });
        }
        let got = body.chars().count();
        if got > MESSAGE_BODY_MAX_CHARS {
            return Err(InputError::TooLong {
                field,
                got,
                max: MESSAGE_BODY_MAX_CHARS,
            });
        }
        if body
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(InputError::ControlCharacter { field });
        }
        Ok(Self(body.to_owned()))
    }
}

/// The sender's id for one message, making a send idempotent: 1–64
/// characters, no control characters. Browsers use a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);
string_newtype!(ClientId);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let field = "client_id";
        if raw.is_empty() {
            return Err(InputError::Empty { field });
        }
        let got = raw.chars().count();
        if got > CLIENT_ID_MAX_CHARS {
            return Err(InputError::TooLong {
                field,
                got,
                max: CLIENT_ID_MAX_CHARS,
            });
        }
        if raw.chars().any(char::is_control) {
            return Err(InputError::ControlCharacter { field });
        }
        Ok(Self(raw.to_owned()))
    }
    /// A fresh random id (UUID v4).
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

/// A point in time as the server saw it, on the wire as RFC 3339 UTC with
/// milliseconds (`2026-11-25T12:00:00.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Kept to the millisecond, the precision of the wire, so a timestamp
    /// reads the same in memory and after a round trip.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        use chrono::SubsecRound;
        Self(at.trunc_subsecs(3))
    }
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
    /// `12:05 UTC`: the time of day a message shows before the browser
    /// knows the reader's time zone. Written out rather than with
    /// `format("%H:%M")`, whose format-string parser was 5 KB of the
    /// gzipped WASM for this one use.
    pub fn utc_time_of_day(&self) -> String {
        use chrono::Timelike;
        format!("{:02}:{:02} UTC", self.0.hour(), self.0.minute())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

/// The reactions a message can get. A fixed palette keeps every client
/// able to show every reaction and keeps the rule one comparison.
pub const REACTIONS: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

/// One emoji of `REACTIONS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);
string_newtype!(Emoji);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        REACTIONS
            .iter()
            .find(|e| **e == raw)
            .map(|e| Self((*e).to_owned()))
            .ok_or_else(|| InputError::NotAReaction {
                got: raw.chars().take(16).collect(),
            })
    }
}

/// One emoji on a message and who added it, in the order they did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: Emoji,
    pub users: Vec<DisplayName>,
}

/// Most characters kept of an attachment's file name.
pub const FILE_NAME_MAX_CHARS: usize = 120;

/// An uploaded file's id: 32 lowercase hex digits (128 random bits), so
/// knowing one proves it was given to you.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttachmentId(String);
string_newtype!(AttachmentId);

impl AttachmentId {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let field = "attachment id";
        if raw.len() != 32 || !raw.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(InputError::NotAnAttachmentId { field });
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A file attached to a message: what viewers need to show or fetch it.
/// `content_type` is what the server found by looking at the bytes, never
/// what the uploader claimed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

impl Attachment {
    /// Types shown inline as a preview (never SVG: it can carry script).
    pub fn is_image(&self) -> bool {
        matches!(
            self.content_type.as_str(),
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        )
    }

    /// Where the file is served.
    pub fn url(&self) -> String {
        format!(
            "/files/{}/{}",
            self.id,
            percent_encoding::utf8_percent_encode(&self.name, PATH_SEGMENT)
        )
    }

    /// "12.5 KB", "3.1 MB": the size for people. Integer arithmetic keeps
    /// float formatting (tens of KB) out of the browser's WASM.
    pub fn size_label(&self) -> String {
        let tenths = |unit: u64| (self.size * 10 + unit / 2) / unit;
        match self.size {
            0..1_000 => format!("{} B", self.size),
            1_000..1_000_000 => format!("{}.{} KB", tenths(1_000) / 10, tenths(1_000) % 10),
            _ => format!("{}.{} MB", tenths(1_000_000) / 10, tenths(1_000_000) % 10),
        }
    }
}

/// A file name as uploaded, made safe to show and to serve: its last path
/// component, without control characters, at most `FILE_NAME_MAX_CHARS`,
/// "file" when nothing is left.
pub fn file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_or_bidi(*c))
        .take(FILE_NAME_MAX_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

/// Whether someone is here: `online` with any tab in view, `away` when all
/// their tabs are hidden, `offline` with none open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

impl PresenceStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }
}

/// A user and whether they are here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    pub name: DisplayName,
    pub status: PresenceStatus,
}

/// What one user has not read in one channel: messages by others after
/// their read position (`last_read`), and how many of those mention them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Unread {
    pub channel: ChannelName,
    pub unread: u32,
    pub mentions: u32,
    pub last_read: u64,
}

/// Private conversations are channels whose names start with this; no
/// channel can be created with it. The rest of the name is the two
/// participants' ids, so only they can be let in.
pub const CONVERSATION_PREFIX: &str = "dm:";

impl DisplayName {
    /// The page of your private conversation with this user,
    /// `/dm/<percent-encoded name>` (encoded as channel paths are).
    pub fn conversation_path(&self) -> String {
        format!(
            "/dm/{}",
            percent_encoding::utf8_percent_encode(&self.0, PATH_SEGMENT)
        )
    }
}

impl ChannelName {
    /// Whether this is a private conversation between two users.
    pub fn is_conversation(&self) -> bool {
        self.0.starts_with(CONVERSATION_PREFIX)
    }
}

/// A private conversation as one of its two participants sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conversation {
    pub channel: ChannelName,
    /// The other participant (yourself, for notes to self).
    pub with: DisplayName,
}

/// A user's id: a UUID the server chose. On the wire, its hyphenated
/// text; any form `uuid` reads is accepted, so it is parsed once, at the
/// edge, and compared as a number from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(uuid::Uuid);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        uuid::Uuid::try_parse(raw)
            .map(Self)
            .map_err(|_| InputError::NotAUserId)
    }
    /// A fresh random id (UUID v4).
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }
    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl TryFrom<String> for UserId {
    type Error = InputError;
    fn try_from(raw: String) -> Result<Self, InputError> {
        Self::parse(&raw)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> String {
        value.to_string()
    }
}

/// Who a user is, as everyone may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub user_id: UserId,
    pub display_name: DisplayName,
}

/// A channel as listed to everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub name: ChannelName,
    pub created_by: DisplayName,
    pub created_at: Timestamp,
}

/// One message in a channel, as it is now. `seq` (the event that created
/// it, and its id from then on), `author`, `sent_at`, `edited_at` and
/// `html` are the server's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    pub channel: ChannelName,
    pub seq: u64,
    pub author: DisplayName,
    pub body: MessageBody,
    pub sent_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
    /// The body's Markdown rendered to sanitized HTML by the server; empty
    /// when the body has no markup (show `body` as text).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub html: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The users `@mentioned` in the body (each once, as they spell their
    /// names), found by the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<DisplayName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// Takes an edit: what an `edited` event carries.
    pub fn apply_edit(
        &mut self,
        body: MessageBody,
        html: String,
        mentions: Vec<DisplayName>,
        at: Timestamp,
    ) {
        self.body = body;
        self.html = html;
        self.mentions = mentions;
        self.edited_at = Some(at);
    }
}

/// A channel's recent history: its most recent messages (at most
/// `HISTORY_LEN`, oldest first) and `head`, the `seq` of its latest event
/// (0 when nothing happened yet). Joining with `after = head` continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelHistory {
    pub channel: Channel,
    pub head: u64,
    pub messages: Vec<Message>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(DisplayName::parse("  alice \t").unwrap().as_str(), "alice");
    }

    #[test]
    fn empty_and_whitespace_only_names_are_rejected() {
        for raw in ["", "   ", "\t\n"] {
            assert_eq!(
                DisplayName::parse(raw),
                Err(InputError::Empty {
                    field: "display name"
                })
            );
            assert!(matches!(
                ChannelName::parse(raw),
                Err(InputError::Empty { .. })
            ));
        }
    }

    #[test]
    fn a_display_name_of_32_characters_is_accepted_and_33_rejected() {
        assert!(DisplayName::parse(&"é".repeat(32)).is_ok());
        assert_eq!(
            DisplayName::parse(&"é".repeat(33)),
            Err(InputError::TooLong {
                field: "display name",
                got: 33,
                max: 32
            })
        );
    }

    #[test]
    fn a_channel_name_of_80_characters_is_accepted_and_81_rejected() {
        assert!(ChannelName::parse(&"🦀".repeat(80)).is_ok());
        assert!(matches!(
            ChannelName::parse(&"a".repeat(81)),
            Err(InputError::TooLong { got: 81, .. })
        ));
    }

    #[test]
    fn control_characters_in_names_are_rejected() {
        assert!(matches!(
            DisplayName::parse("al\u{7}ice"),
            Err(InputError::ControlCharacter { .. })
        ));
        assert!(matches!(
            ChannelName::parse("gen\neral"),
            Err(InputError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn invisible_and_bidi_override_characters_in_names_are_rejected() {
        for raw in ["ad\u{202E}min", "a\u{200B}b", "\u{FEFF}x", "x\u{2066}y"] {
            assert!(
                matches!(
                    DisplayName::parse(raw),
                    Err(InputError::InvisibleCharacter { .. })
                ),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn emoji_with_zero_width_joiners_are_valid_channel_names() {
        let family = "👨\u{200D}👩\u{200D}👧 family";
        assert_eq!(ChannelName::parse(family).unwrap().as_str(), family);
    }

    #[test]
    fn channel_names_with_a_slash_are_rejected() {
        assert_eq!(
            ChannelName::parse("a/b"),
            Err(InputError::Slash {
                field: "channel name"
            })
        );
    }

    #[test]
    fn names_differing_by_case_or_normalization_share_a_key() {
        let a = ChannelName::parse("General").unwrap();
        let b = ChannelName::parse("gENERAL").unwrap();
        let c = ChannelName::parse("ｇｅｎｅｒａｌ").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), c.key());
        assert_ne!(a.key(), ChannelName::parse("random").unwrap().key());
        assert_eq!(
            DisplayName::parse("Ｂｏｂ").unwrap().key(),
            DisplayName::parse("bob").unwrap().key()
        );
    }

    #[test]
    fn the_ascii_shortcut_keys_names_as_normalizing_would() {
        let every_ascii: String = (0u8..128).map(char::from).collect();
        for name in [every_ascii.as_str(), "General", "DEV-ops_2", "A b\tC"] {
            assert_eq!(name_key(name), normalized_key(name), "{name:?}");
        }
    }

    #[test]
    fn attachment_sizes_read_like_people_write_them() {
        let sized = |size| Attachment {
            id: AttachmentId::parse(&"a".repeat(32)).unwrap(),
            name: "f".into(),
            size,
            content_type: "text/plain".into(),
        };
        assert_eq!(sized(11).size_label(), "11 B");
        assert_eq!(sized(12_549).size_label(), "12.5 KB");
        assert_eq!(sized(999_999).size_label(), "1000.0 KB");
        assert_eq!(sized(3_150_000).size_label(), "3.2 MB");
    }

    #[test]
    fn channel_paths_are_percent_encoded() {
        assert_eq!(
            ChannelName::parse("café ☕").unwrap().path(),
            "/c/caf%C3%A9%20%E2%98%95"
        );
    }

    #[test]
    fn message_bodies_lose_trailing_whitespace_only() {
        let body = MessageBody::parse("  indented\r\nline  \n\n ").unwrap();
        assert_eq!(body.as_str(), "  indented\nline");
    }

    #[test]
    fn whitespace_only_messages_are_rejected() {
        assert_eq!(
            MessageBody::parse(" \n\t "),
            Err(InputError::Empty { field: "message" })
        );
    }

    #[test]
    fn a_message_of_4000_characters_is_accepted_and_4001_rejected() {
        assert!(MessageBody::parse(&"x".repeat(4000)).is_ok());
        assert_eq!(
            MessageBody::parse(&"x".repeat(4001)),
            Err(InputError::TooLong {
                field: "message",
                got: 4001,
                max: 4000
            })
        );
    }

    #[test]
    fn control_characters_other_than_newline_and_tab_are_rejected_in_messages() {
        assert!(MessageBody::parse("a\tb\nc").is_ok());
        assert!(matches!(
            MessageBody::parse("a\u{0}b"),
            Err(InputError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn deserializing_goes_through_validation() {
        let err = serde_json::from_str::<DisplayName>("\"   \"").unwrap_err();
        assert!(err.to_string().contains("display name must not be empty"));
        let ok: ChannelName = serde_json::from_str("\" general \"").unwrap();
        assert_eq!(ok.as_str(), "general");
    }

    #[test]
    fn names_lowercase_for_ordering_beyond_ascii() {
        assert_eq!(lowercase("ÉLODIE Ünal"), "élodie ünal");
        assert_eq!(lowercase("bob"), "bob");
    }

    #[test]
    fn client_ids_are_bounded() {
        assert!(ClientId::parse(ClientId::random().as_str()).is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn timestamps_travel_as_rfc3339_utc_with_milliseconds() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T12:00:00.123456+01:00").unwrap();
        let ts = Timestamp::from_datetime(at.with_timezone(&Utc));
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2026-11-25T11:00:00.123Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_rfc3339(), "2026-11-25T11:00:00.123Z");
        assert_eq!(back.utc_time_of_day(), "11:00 UTC");
        let late = serde_json::from_str::<Timestamp>("\"2026-11-25T23:59:59.999Z\"").unwrap();
        assert_eq!(late.utc_time_of_day(), "23:59 UTC");
        let early = serde_json::from_str::<Timestamp>("\"2026-11-25T00:07:00Z\"").unwrap();
        assert_eq!(
            early.utc_time_of_day(),
            early.as_datetime().format("%H:%M UTC").to_string()
        );
    }
}
