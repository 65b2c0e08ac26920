//! The WebSocket wire contract (docs/PROTOCOL.md): JSON text frames tagged by
//! `"type"`, `ClientFrame` from browser to server and `ServerFrame` back.
//!
//! Invariant: decoding a client frame never panics and every refusal says
//! what was wrong with an `ErrorCode`; a refused `send` still reports the
//! `client_id` it carried when one can be read, so the sender can match it.

use crate::model::{
    AttachmentId, Channel, ChannelName, ClientId, DisplayName, Emoji, Message, MessageBody,
    PresenceStatus, Reaction, Replies, ReplyTo, Timestamp, UserInfo,
};
use serde::{Deserialize, Serialize};

/// Largest WebSocket message the server accepts by default, in bytes. The
/// WebSocket layer enforces it (closing with 1009) before any decoding.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// View a channel: the events after `after` (or the recent history), then live.
    Join {
        channel: ChannelName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
    },
    /// Post a message; `client_id` makes retries idempotent.
    Send {
        channel: ChannelName,
        client_id: ClientId,
        body: MessageBody,
        /// Files uploaded by this user (`POST /api/upload`), not yet sent.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentId>,
        /// A reply in the thread of message `root` of `channel`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<ReplyTo>,
    },
    /// Open the thread of message `root` of the viewed channel: answered
    /// with a `thread` frame, after which its events come live.
    Thread { channel: ChannelName, root: u64 },
    /// Replace the body of one's own message `id` (its `seq`).
    Edit {
        channel: ChannelName,
        id: u64,
        body: MessageBody,
    },
    /// Delete one's own message `id`.
    Delete { channel: ChannelName, id: u64 },
    /// Add (`add: true`) or remove one's reaction `emoji` on message `id`.
    /// Adding twice or removing what is not there changes nothing.
    React {
        channel: ChannelName,
        id: u64,
        emoji: Emoji,
        add: bool,
    },
    /// The user has read `channel` up to `seq` (a read position only moves
    /// forward, and never past the channel's `head`).
    Read { channel: ChannelName, seq: u64 },
    /// This tab is hidden (`true`) or in view again (`false`).
    Away { away: bool },
    /// The user is typing in `channel` (send at most every few seconds).
    Typing { channel: ChannelName },
    /// Application-level heartbeat; answered with `pong`.
    Ping,
}

impl ClientFrame {
    /// The frame types a client may send (for `unknown_type` errors).
    pub const TYPES: [&'static str; 10] = [
        "join", "send", "thread", "edit", "delete", "react", "read", "away", "typing", "ping",
    ];
}

/// Machine-readable reason of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The text frame is not JSON. (A frame that is not even UTF-8 text
    /// ends the connection: the WebSocket layer refuses it.)
    BadJson,
    /// The frame's `type` is missing or not one the server knows.
    UnknownType,
    /// A known frame with missing, extra or invalid fields.
    InvalidFrame,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// No channel has that name.
    UnknownChannel,
    /// Too many requests; `retry_after_ms` says when to try again.
    RateLimited,
    /// The server cannot take this now (e.g. its store is behind); retry.
    Unavailable,
    /// No message with that `id` in the channel's recent history.
    UnknownMessage,
    /// Only a message's author may edit or delete it.
    Forbidden,
    /// A `send` named attachments that are not this user's unsent uploads,
    /// or too many of them.
    BadAttachment,
    /// A `send` repeated a `client_id` this user already sent to another
    /// channel: a retry goes to the channel it went to first.
    ClientIdReused,
    /// The connection's session is no longer valid (it is about to close).
    NotSignedIn,
    /// No user (or other thing) of that name.
    NotFound,
    /// The user reached a limit on what one person may hold.
    QuotaExceeded,
    /// The display name is taken.
    NameTaken,
    /// A channel with that name exists.
    ChannelExists,
    /// Something failed inside the server; nothing was stored.
    Internal,
    /// A code this client does not know (newer server).
    #[serde(other)]
    Other,
}

/// The body of an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The message an `edit`, `delete` or `react` was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

impl ErrorFrame {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_id: None,
            channel: None,
            retry_after_ms: None,
            id: None,
        }
    }
}

/// A frame from the server.
///
/// Every variant holds one value (a struct of `frame` for the ones made
/// for this enum), and the derived `Serialize` writes its fields next to
/// `"type"`. Clients read frames with `ServerFrame::from_json`, not with a
/// derived `Deserialize`: see there why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome(frame::Welcome),
    Reset(frame::Reset),
    Joined(frame::Joined),
    Message(Message),
    Edited(frame::Edited),
    Deleted(frame::Deleted),
    Reactions(frame::Reactions),
    Ack(frame::Ack),
    Error(ErrorFrame),
    ChannelCreated(frame::ChannelCreated),
    Presence(frame::Presence),
    Typing(frame::Typing),
    Topic(frame::Topic),
    Reply(frame::Reply),
    Thread(frame::Thread),
    Pong,
    /// A frame type this client does not know: ignored.
    Unknown,
}

/// The fields of each `ServerFrame` variant (docs/PROTOCOL.md §4.4).
pub mod frame {
    use super::*;

    /// First frame on every connection: who you are and the id of this
    /// server run. When `server_id` differs from the one a client saw
    /// before, the server restarted and forgot what it had: the client's
    /// `last_seq`s mean nothing any more and must be dropped. (The channel
    /// list is `/api/list_channels`; keeping it out of this frame keeps
    /// every connection's buffers small however many channels exist.)
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Welcome {
        pub user: UserInfo,
        pub server_id: String,
    }

    /// The client's `after` is older than what the server holds: drop the
    /// view of `channel`; the recent history follows. `topic` is the
    /// channel's topic now (absent: none), which no event may repeat.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Reset {
        pub channel: ChannelName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub topic: Option<crate::model::Topic>,
    }

    /// End of a `join`'s backlog; `head` is the channel's latest `seq`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Joined {
        pub channel: ChannelName,
        pub head: u64,
    }

    /// Message `id` now reads `body` (event `seq`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Edited {
        pub channel: ChannelName,
        pub seq: u64,
        pub id: u64,
        pub body: MessageBody,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub html: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub mentions: Vec<DisplayName>,
        pub edited_at: Timestamp,
    }

    /// Message `id` is gone (event `seq`). A reply names its thread's
    /// `root` and the thread's summary after it (`thread` absent: no
    /// replies left). A thread's first message takes its replies with it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Deleted {
        pub channel: ChannelName,
        pub seq: u64,
        pub id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub root: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub thread: Option<Replies>,
    }

    /// A reply (event `message.seq`) in the thread of
    /// `message.reply_to.root`, whose summary is now `thread`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Reply {
        pub message: Message,
        pub thread: Replies,
    }

    /// The answer to a client's `thread`: the thread's first message and
    /// its replies (oldest first) as of `head`; its later events follow.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Thread {
        pub channel: ChannelName,
        pub head: u64,
        pub root: Message,
        pub replies: Vec<Message>,
    }

    /// Message `id`'s reactions are now `reactions` (event `seq`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Reactions {
        pub channel: ChannelName,
        pub seq: u64,
        pub id: u64,
        pub reactions: Vec<Reaction>,
    }

    /// The sender's message is stored with this `seq`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Ack {
        pub client_id: ClientId,
        pub channel: ChannelName,
        pub seq: u64,
    }

    /// Someone created a channel.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ChannelCreated {
        pub channel: Channel,
    }

    /// `user` is now `status` (sent to every connection).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Presence {
        pub user: DisplayName,
        pub status: PresenceStatus,
    }

    /// `user` is typing in `channel` (to its viewers; not an event: no
    /// `seq`, not replayed). Show it for a few seconds.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Typing {
        pub channel: ChannelName,
        pub user: DisplayName,
    }

    /// `channel`'s topic is now `topic` (`null`: cleared), set by `by`
    /// (event `seq`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Topic {
        pub channel: ChannelName,
        pub seq: u64,
        pub topic: Option<crate::model::Topic>,
        pub by: DisplayName,
    }
}

impl ServerFrame {
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys,
        // no fallible `Serialize` impls.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"type":"error","code":"internal","message":"{e}"}}"#))
    }

    /// Reads a frame: its `"type"` first, then the whole text again as that
    /// variant's struct (which ignores the `"type"` key). An unknown type is
    /// `Unknown`.
    ///
    /// Why not `#[derive(Deserialize)]`: for an internally tagged enum serde
    /// buffers the frame into its private `Content` tree and reads every
    /// variant's types from that, a second deserializer for each type beside
    /// the one reading JSON directly (which the server functions' answers
    /// need anyway). In the browser that second copy was 12 KB of the
    /// gzipped WASM. The price is a second scan of the
    /// text: reading the tag skips over every other value, which for a
    /// message-sized frame is far less than a browser spends drawing it.
    pub fn from_json(text: &str) -> serde_json::Result<Self> {
        use serde_json::from_str;
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(rename = "type", borrow)]
            kind: std::borrow::Cow<'a, str>,
        }
        let Tag { kind } = from_str(text)?;
        Ok(match kind.as_ref() {
            "welcome" => Self::Welcome(from_str(text)?),
            "reset" => Self::Reset(from_str(text)?),
            "joined" => Self::Joined(from_str(text)?),
            "message" => Self::Message(from_str(text)?),
            "edited" => Self::Edited(from_str(text)?),
            "deleted" => Self::Deleted(from_str(text)?),
            "reactions" => Self::Reactions(from_str(text)?),
            "ack" => Self::Ack(from_str(text)?),
            "error" => Self::Error(from_str(text)?),
            "channel_created" => Self::ChannelCreated(from_str(text)?),
            "presence" => Self::Presence(from_str(text)?),
            "typing" => Self::Typing(from_str(text)?),
            "topic" => Self::Topic(from_str(text)?),
            "reply" => Self::Reply(from_str(text)?),
            "thread" => Self::Thread(from_str(text)?),
            "pong" => Self::Pong,
            _ => Self::Unknown,
        })
    }
}

/// Decodes one text frame from a client. On failure the `ErrorFrame` carries
/// the frame's `client_id` and `channel` when they can be read.
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, ErrorFrame> {
    // A well-formed frame, nearly every one, decodes in one pass. Only a
    // refused one is read again as a JSON value, to say why and to echo its
    // `client_id` and `channel`; that reading decides everything it sees
    // (the fuzz tests check both readings agree where the first succeeds).
    // Only an object takes the one pass: serde would also read a tagged
    // enum from an array (`["ping"]`), which is no frame.
    let object = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{');
    if object {
        serde_json::from_str(text).or_else(|_| decode_as_value(text))
    } else {
        decode_as_value(text)
    }
}

/// The whole decision, by way of a `serde_json::Value`.
pub(crate) fn decode_as_value(text: &str) -> Result<ClientFrame, ErrorFrame> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ErrorFrame::new(ErrorCode::BadJson, format!("frame is not valid JSON: {e}"))
    })?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let with_context = |mut err: ErrorFrame| {
        err.client_id = field("client_id");
        err.channel = field("channel");
        err.id = value.get("id").and_then(|v| v.as_u64());
        err
    };
    match value.get("type").and_then(|t| t.as_str()) {
        Some(known) if ClientFrame::TYPES.contains(&known) => {}
        Some(other) => {
            return Err(with_context(ErrorFrame::new(
                ErrorCode::UnknownType,
                format!("unknown frame type {other:?}"),
            )))
        }
        None => {
            return Err(with_context(ErrorFrame::new(
                ErrorCode::UnknownType,
                "frame has no string \"type\" field",
            )))
        }
    }
    ClientFrame::deserialize(&value).map_err(|e| {
        with_context(ErrorFrame::new(
            ErrorCode::InvalidFrame,
            format!("invalid frame: {e}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisplayName, Timestamp, Topic, TopicText};

    fn json(frame: &ServerFrame) -> serde_json::Value {
        serde_json::from_str(&frame.to_json()).unwrap()
    }

    #[test]
    fn join_frames_decode_with_and_without_after() {
        assert_eq!(
            decode_client_frame(r#"{"type":"join","channel":"general","after":42}"#).unwrap(),
            ClientFrame::Join {
                channel: ChannelName::parse("general").unwrap(),
                after: Some(42)
            }
        );
        assert_eq!(
            decode_client_frame(r#"{"type":"join","channel":"general"}"#).unwrap(),
            ClientFrame::Join {
                channel: ChannelName::parse("general").unwrap(),
                after: None
            }
        );
    }

    #[test]
    fn send_frames_decode() {
        let frame = decode_client_frame(
            r#"{"type":"send","channel":"general","client_id":"c1","body":"hi"}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Send {
                channel: ChannelName::parse("general").unwrap(),
                client_id: ClientId::parse("c1").unwrap(),
                body: MessageBody::parse("hi").unwrap(),
                attachments: Vec::new(),
                reply_to: None,
            }
        );
    }

    #[test]
    fn client_frames_round_trip() {
        let frame = ClientFrame::Send {
            channel: ChannelName::parse("général").unwrap(),
            client_id: ClientId::random(),
            body: MessageBody::parse("<b>x</b>").unwrap(),
            attachments: vec![AttachmentId::parse(&"ab".repeat(16)).unwrap()],
            reply_to: Some(ReplyTo {
                root: 7,
                also_in_channel: true,
            }),
        };
        let text = serde_json::to_string(&frame).unwrap();
        assert_eq!(decode_client_frame(&text).unwrap(), frame);
    }

    #[test]
    fn repeated_keys_decide_as_they_did_through_a_json_value() {
        for text in [
            r#"{"type":"ping","type":"ping"}"#,
            r#"{"type":"join","type":"send","channel":"a","client_id":"c","body":"b"}"#,
            r#"{"type":"send","type":"join","channel":"a"}"#,
            r#"{"type":"join","channel":"a","channel":"b"}"#,
            r#"{"type":"read","channel":"a","seq":1,"seq":2}"#,
            r#"["ping"]"#,
            r#" ["send","general","c1","hi"]"#,
            r#"["join","general"]"#,
        ] {
            assert_eq!(decode_client_frame(text), decode_as_value(text), "{text}");
        }
    }

    #[test]
    fn arrays_are_not_frames() {
        for text in [r#"["ping"]"#, r#"["send","general","c1","hi"]"#] {
            let err = decode_client_frame(text).unwrap_err();
            assert_eq!(err.code, ErrorCode::UnknownType, "{text}");
        }
    }

    #[test]
    fn malformed_json_is_bad_json() {
        assert_eq!(
            decode_client_frame("{nope").unwrap_err().code,
            ErrorCode::BadJson
        );
    }

    #[test]
    fn unknown_and_missing_types_are_reported() {
        assert_eq!(
            decode_client_frame(r#"{"type":"dance"}"#).unwrap_err().code,
            ErrorCode::UnknownType
        );
        assert_eq!(
            decode_client_frame("{}").unwrap_err().code,
            ErrorCode::UnknownType
        );
        assert_eq!(
            decode_client_frame("[1,2]").unwrap_err().code,
            ErrorCode::UnknownType
        );
    }

    #[test]
    fn an_invalid_send_keeps_its_client_id_and_says_why() {
        let body = "x".repeat(4001);
        let text =
            format!(r#"{{"type":"send","channel":"general","client_id":"c9","body":"{body}"}}"#);
        let err = decode_client_frame(&text).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidFrame);
        assert_eq!(err.client_id.as_deref(), Some("c9"));
        assert!(err.message.contains("4001 characters"), "{}", err.message);
    }

    #[test]
    fn missing_fields_and_forged_authors_are_invalid() {
        let missing = decode_client_frame(r#"{"type":"send","channel":"general","body":"x"}"#);
        assert_eq!(missing.unwrap_err().code, ErrorCode::InvalidFrame);
        let forged = decode_client_frame(
            r#"{"type":"send","channel":"g","client_id":"c","body":"x","author":"bob"}"#,
        );
        assert_eq!(forged.unwrap_err().code, ErrorCode::InvalidFrame);
    }

    #[test]
    fn message_frames_have_the_documented_shape() {
        let frame = ServerFrame::Message(Message {
            channel: ChannelName::parse("general").unwrap(),
            seq: 43,
            author: DisplayName::parse("alice").unwrap(),
            body: MessageBody::parse("hi").unwrap(),
            sent_at: serde_json::from_str("\"2026-11-25T12:00:00.123Z\"").unwrap(),
            client_id: Some(ClientId::parse("c1").unwrap()),
            html: String::new(),
            edited_at: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            reply_to: None,
            replies: None,
        });
        assert_eq!(
            json(&frame),
            serde_json::json!({"type":"message","channel":"general","seq":43,"author":"alice",
                "body":"hi","sent_at":"2026-11-25T12:00:00.123Z","client_id":"c1"})
        );
    }

    #[test]
    fn edit_delete_and_react_frames_decode() {
        let general = || ChannelName::parse("general").unwrap();
        assert_eq!(
            decode_client_frame(r#"{"type":"edit","channel":"general","id":4,"body":"fixed"}"#)
                .unwrap(),
            ClientFrame::Edit {
                channel: general(),
                id: 4,
                body: MessageBody::parse("fixed").unwrap()
            }
        );
        assert_eq!(
            decode_client_frame(r#"{"type":"delete","channel":"general","id":4}"#).unwrap(),
            ClientFrame::Delete {
                channel: general(),
                id: 4
            }
        );
        assert_eq!(
            decode_client_frame(
                r#"{"type":"react","channel":"general","id":4,"emoji":"👍","add":true}"#
            )
            .unwrap(),
            ClientFrame::React {
                channel: general(),
                id: 4,
                emoji: Emoji::parse("👍").unwrap(),
                add: true
            }
        );
        let err = decode_client_frame(
            r#"{"type":"react","channel":"general","id":4,"emoji":"lol","add":true}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidFrame);
        assert_eq!(err.id, Some(4));
        assert!(
            err.message.contains("not one of the reactions"),
            "{}",
            err.message
        );
        let err =
            decode_client_frame(r#"{"type":"delete","channel":"general","id":-1}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidFrame);
    }

    #[test]
    fn error_frames_omit_absent_fields() {
        let frame = ServerFrame::Error(ErrorFrame::new(
            ErrorCode::UnknownChannel,
            "no such channel",
        ));
        assert_eq!(
            json(&frame),
            serde_json::json!({"type":"error","code":"unknown_channel","message":"no such channel"})
        );
    }

    #[test]
    fn clients_ignore_unknown_server_frames_and_codes() {
        let frame = ServerFrame::from_json(r#"{"type":"dance_party","who":"bob"}"#).unwrap();
        assert_eq!(frame, ServerFrame::Unknown);
        let frame =
            ServerFrame::from_json(r#"{"type":"error","code":"brand_new","message":"m"}"#).unwrap();
        assert!(matches!(
            frame,
            ServerFrame::Error(ErrorFrame {
                code: ErrorCode::Other,
                ..
            })
        ));
    }

    /// One frame of every type, each optional field filled.
    fn every_server_frame() -> Vec<ServerFrame> {
        let channel = ChannelName::parse("random").unwrap();
        let bob = DisplayName::parse("bob").unwrap();
        let at = serde_json::from_str::<Timestamp>("\"2026-11-25T12:00:00.123Z\"").unwrap();
        let reactions = vec![Reaction {
            emoji: Emoji::parse("👍").unwrap(),
            users: vec![bob.clone()],
        }];
        let message = Message {
            channel: channel.clone(),
            seq: 7,
            author: bob.clone(),
            body: MessageBody::parse("**hi** @bob").unwrap(),
            sent_at: at,
            client_id: Some(ClientId::parse("c-1").unwrap()),
            html: "<p><strong>hi</strong> @bob</p>".into(),
            edited_at: Some(at),
            reactions: reactions.clone(),
            mentions: vec![bob.clone()],
            attachments: vec![],
            reply_to: None,
            replies: Some(Replies {
                count: 2,
                last_at: Some(at),
            }),
        };
        let reply = Message {
            seq: 12,
            reply_to: Some(ReplyTo {
                root: 7,
                also_in_channel: false,
            }),
            replies: None,
            reactions: vec![],
            mentions: vec![],
            html: String::new(),
            edited_at: None,
            body: MessageBody::parse("yes").unwrap(),
            ..message.clone()
        };
        let mut error = ErrorFrame::new(ErrorCode::RateLimited, "slow down");
        error.client_id = Some("c-1".into());
        error.channel = Some("random".into());
        error.retry_after_ms = Some(250);
        error.id = Some(7);
        vec![
            ServerFrame::Welcome(frame::Welcome {
                user: UserInfo {
                    user_id: crate::model::UserId::parse("0c6a3e1e-5d2b-4f7e-9a41-3f0d8b2c7e11")
                        .unwrap(),
                    display_name: bob.clone(),
                },
                server_id: "s-1".into(),
            }),
            ServerFrame::Reset(frame::Reset {
                channel: channel.clone(),
                topic: None,
            }),
            ServerFrame::Joined(frame::Joined {
                channel: channel.clone(),
                head: 9,
            }),
            ServerFrame::Message(message.clone()),
            ServerFrame::Edited(frame::Edited {
                channel: channel.clone(),
                seq: 8,
                id: 7,
                body: MessageBody::parse("*edited* @bob").unwrap(),
                html: "<p><em>edited</em> @bob</p>".into(),
                mentions: vec![bob.clone()],
                edited_at: at,
            }),
            ServerFrame::Deleted(frame::Deleted {
                channel: channel.clone(),
                seq: 9,
                id: 8,
                root: Some(7),
                thread: Some(Replies {
                    count: 1,
                    last_at: Some(at),
                }),
            }),
            ServerFrame::Reactions(frame::Reactions {
                channel: channel.clone(),
                seq: 10,
                id: 7,
                reactions,
            }),
            ServerFrame::Ack(frame::Ack {
                client_id: ClientId::parse("c-1").unwrap(),
                channel: channel.clone(),
                seq: 7,
            }),
            ServerFrame::Error(error),
            ServerFrame::ChannelCreated(frame::ChannelCreated {
                channel: Channel {
                    name: channel.clone(),
                    created_by: bob.clone(),
                    created_at: at,
                    topic: None,
                },
            }),
            ServerFrame::Presence(frame::Presence {
                user: bob.clone(),
                status: PresenceStatus::Away,
            }),
            ServerFrame::Typing(frame::Typing {
                channel: channel.clone(),
                user: bob.clone(),
            }),
            ServerFrame::Topic(frame::Topic {
                channel: channel.clone(),
                seq: 11,
                topic: Some(Topic {
                    text: TopicText::parse("Release *Friday*").unwrap(),
                    html: "Release <em>Friday</em>".into(),
                    set_by: bob.clone(),
                    set_at: at,
                }),
                by: bob,
            }),
            ServerFrame::Reply(frame::Reply {
                message: reply.clone(),
                thread: Replies {
                    count: 2,
                    last_at: Some(at),
                },
            }),
            ServerFrame::Thread(frame::Thread {
                channel,
                head: 12,
                root: message.clone(),
                replies: vec![reply],
            }),
            ServerFrame::Pong,
        ]
    }

    #[test]
    fn every_server_frame_round_trips() {
        for frame in every_server_frame() {
            let text = frame.to_json();
            assert_eq!(ServerFrame::from_json(&text).unwrap(), frame, "{text}");
        }
    }

    /// Which variant a frame is, with no wildcard: a new variant does not
    /// compile until it is numbered here, and then `every_server_frame`
    /// fails its count until it holds one.
    fn variant(frame: &ServerFrame) -> usize {
        match frame {
            ServerFrame::Welcome(_) => 0,
            ServerFrame::Reset(_) => 1,
            ServerFrame::Joined(_) => 2,
            ServerFrame::Message(_) => 3,
            ServerFrame::Edited(_) => 4,
            ServerFrame::Deleted(_) => 5,
            ServerFrame::Reactions(_) => 6,
            ServerFrame::Ack(_) => 7,
            ServerFrame::Error(_) => 8,
            ServerFrame::ChannelCreated(_) => 9,
            ServerFrame::Presence(_) => 10,
            ServerFrame::Typing(_) => 11,
            ServerFrame::Topic(_) => 12,
            ServerFrame::Reply(_) => 13,
            ServerFrame::Thread(_) => 14,
            ServerFrame::Pong => 15,
            ServerFrame::Unknown => 16,
        }
    }

    #[test]
    fn server_frames_keep_their_wire_text() {
        // Byte for byte, field order included, as docs/PROTOCOL.md §4.4
        // shows them: each variant's struct writes its fields after "type",
        // as the struct variants it replaced did.
        let expected = [
            r#"{"type":"welcome","user":{"user_id":"0c6a3e1e-5d2b-4f7e-9a41-3f0d8b2c7e11","display_name":"bob"},"server_id":"s-1"}"#,
            r#"{"type":"reset","channel":"random"}"#,
            r#"{"type":"joined","channel":"random","head":9}"#,
            r#"{"type":"message","channel":"random","seq":7,"author":"bob","body":"**hi** @bob","sent_at":"2026-11-25T12:00:00.123Z","client_id":"c-1","html":"<p><strong>hi</strong> @bob</p>","edited_at":"2026-11-25T12:00:00.123Z","reactions":[{"emoji":"👍","users":["bob"]}],"mentions":["bob"],"replies":{"count":2,"last_at":"2026-11-25T12:00:00.123Z"}}"#,
            r#"{"type":"edited","channel":"random","seq":8,"id":7,"body":"*edited* @bob","html":"<p><em>edited</em> @bob</p>","mentions":["bob"],"edited_at":"2026-11-25T12:00:00.123Z"}"#,
            r#"{"type":"deleted","channel":"random","seq":9,"id":8,"root":7,"thread":{"count":1,"last_at":"2026-11-25T12:00:00.123Z"}}"#,
            r#"{"type":"reactions","channel":"random","seq":10,"id":7,"reactions":[{"emoji":"👍","users":["bob"]}]}"#,
            r#"{"type":"ack","client_id":"c-1","channel":"random","seq":7}"#,
            r#"{"type":"error","code":"rate_limited","message":"slow down","client_id":"c-1","channel":"random","retry_after_ms":250,"id":7}"#,
            r#"{"type":"channel_created","channel":{"name":"random","created_by":"bob","created_at":"2026-11-25T12:00:00.123Z"}}"#,
            r#"{"type":"presence","user":"bob","status":"away"}"#,
            r#"{"type":"typing","channel":"random","user":"bob"}"#,
            r#"{"type":"topic","channel":"random","seq":11,"topic":{"text":"Release *Friday*","html":"Release <em>Friday</em>","set_by":"bob","set_at":"2026-11-25T12:00:00.123Z"},"by":"bob"}"#,
            r#"{"type":"reply","message":{"channel":"random","seq":12,"author":"bob","body":"yes","sent_at":"2026-11-25T12:00:00.123Z","client_id":"c-1","reply_to":{"root":7}},"thread":{"count":2,"last_at":"2026-11-25T12:00:00.123Z"}}"#,
            r#"{"type":"thread","channel":"random","head":12,"root":{"channel":"random","seq":7,"author":"bob","body":"**hi** @bob","sent_at":"2026-11-25T12:00:00.123Z","client_id":"c-1","html":"<p><strong>hi</strong> @bob</p>","edited_at":"2026-11-25T12:00:00.123Z","reactions":[{"emoji":"👍","users":["bob"]}],"mentions":["bob"],"replies":{"count":2,"last_at":"2026-11-25T12:00:00.123Z"}},"replies":[{"channel":"random","seq":12,"author":"bob","body":"yes","sent_at":"2026-11-25T12:00:00.123Z","client_id":"c-1","reply_to":{"root":7}}]}"#,
            r#"{"type":"pong"}"#,
        ];
        let frames = every_server_frame();
        let kinds: Vec<usize> = frames.iter().map(variant).collect();
        assert_eq!(
            kinds,
            (0..16).collect::<Vec<_>>(),
            "one frame of every type a server sends, in order"
        );
        for (frame, text) in frames.iter().zip(expected) {
            assert_eq!(frame.to_json(), text);
        }
    }

    #[test]
    fn malformed_server_frames_are_errors() {
        for text in [
            "",
            "not json",
            r#"{"channel":"random"}"#,
            r#"{"type":7}"#,
            r#"{"type":"joined","channel":"random"}"#,
            r#"{"type":"joined","channel":"random","head":"nine"}"#,
            r#"{"type":"presence","user":"bob","status":"dancing"}"#,
            r#"{"type":"message","channel":"random"}"#,
        ] {
            assert!(ServerFrame::from_json(text).is_err(), "{text}");
        }
        // A frame from a newer server may carry fields this client does
        // not know: they are ignored, as before.
        let frame = ServerFrame::from_json(r#"{"type":"pong","extra":1}"#).unwrap();
        assert_eq!(frame, ServerFrame::Pong);
        let frame =
            ServerFrame::from_json(r#"{"type":"joined","channel":"random","head":9,"shard":"b"}"#)
                .unwrap();
        assert!(matches!(
            frame,
            ServerFrame::Joined(frame::Joined { head: 9, .. })
        ));
    }
}
