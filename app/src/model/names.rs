//! Names: display names and channel names, their keys (when two names
//! are one) and their pages.

use super::*;

/// Characters that are invisible or reorder text. They let two names look the
/// same while differing, or make a name display as something else. The zero
/// width joiner (U+200D) is allowed: emoji sequences need it.
pub(super) fn is_invisible_or_bidi(c: char) -> bool {
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
pub(super) fn normalized_key(name: &str) -> String {
    let folded: String = name.nfkc().collect::<String>().to_lowercase();
    folded.nfkc().collect()
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
pub(super) const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
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
