//! Attachments as messages carry them: ids, names, sizes, types.

use super::*;

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
