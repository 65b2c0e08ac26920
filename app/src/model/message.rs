//! Messages and what they carry: bodies, client ids, times, reactions,
//! and a channel's history.

use super::*;

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
/// A channel as listed to everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub name: ChannelName,
    pub created_by: DisplayName,
    pub created_at: Timestamp,
    /// Absent when none was set (and from servers without topics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
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
    /// A reply: the thread it is in (absent: a message of the channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
    /// A thread's first message: its replies so far (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<Replies>,
}

/// Where a reply belongs: the thread of message `root`; `also_in_channel`
/// when it was also sent to the channel ("Also send to #channel"), where it
/// then counts among the channel's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyTo {
    pub root: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub also_in_channel: bool,
}

/// A thread's summary on its first message: how many replies it has
/// (every one posted and not deleted) and when the latest came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Replies {
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<Timestamp>,
}

/// How many replies a thread keeps (besides those also sent to the
/// channel, which the channel keeps).
pub const THREAD_LEN: usize = 100;

impl Message {
    /// The message's stable address: `/c/<channel>/<seq>`, and for a reply
    /// `?thread=<root>` (the thread opens with it).
    pub fn path(&self) -> String {
        let at = format!("{}/{}", self.channel.path(), self.seq);
        match self.reply_to {
            Some(to) => format!("{at}?thread={}", to.root),
            None => at,
        }
    }

    /// A reply kept in its thread only (not also in the channel).
    pub fn in_thread_only(&self) -> bool {
        self.reply_to.is_some_and(|r| !r.also_in_channel)
    }

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
