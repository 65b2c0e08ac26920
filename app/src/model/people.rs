//! People: users, their ids, presence, unread counts and conversations.

use super::*;

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
