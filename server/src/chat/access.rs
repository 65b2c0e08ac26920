//! Who may see which channel: the one place that decides it.
//!
//! A channel is known by its key (`ChannelName::key`: NFKC, case-folded),
//! never by the name as someone typed it. `Room::of_key` parses that key
//! once: a public channel, a private conversation between two parsed user
//! ids, or a reserved key that names no conversation anyone is in.
//! `may_see` answers for a viewer (or for nobody, without a session).
//!
//! Invariant: every way to a channel's contents (history, server-rendered
//! pages, `join`, `send`, `edit`, `delete`, `react`, `typing`, `read`,
//! unread counts, listing, attachments) asks `may_see` on the parsed key.
//! Someone else's conversation reads as a channel that does not exist.

use app::model::{UserId, CONVERSATION_PREFIX};
use uuid::Uuid;

/// What a channel key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// A channel everyone sees.
    Public,
    /// The private conversation of these two users (lower id first; the
    /// same user twice for notes to self).
    Conversation(UserId, UserId),
    /// Starts like a conversation but is not one this server makes: no
    /// one may see it.
    Reserved,
}

impl Room {
    /// Parses a channel key (already normalized and case-folded).
    pub fn of_key(key: &str) -> Self {
        let Some(ids) = key.strip_prefix(CONVERSATION_PREFIX) else {
            return Self::Public;
        };
        let Some((a, b)) = ids.split_once(':') else {
            return Self::Reserved;
        };
        match (Uuid::try_parse(a), Uuid::try_parse(b)) {
            (Ok(a), Ok(b)) if conversation_key(a, b) == key => {
                Self::Conversation(UserId::from_uuid(a), UserId::from_uuid(b))
            }
            _ => Self::Reserved,
        }
    }

    /// Whether `viewer` (`None`: someone without a session) may see it.
    pub fn may_see(self, viewer: Option<UserId>) -> bool {
        match self {
            Self::Public => true,
            Self::Conversation(a, b) => viewer.is_some_and(|v| v == a || v == b),
            Self::Reserved => false,
        }
    }

    /// For a conversation `user` is in, the other participant (`user`
    /// again for notes to self).
    pub fn other_than(self, user: UserId) -> Option<UserId> {
        match self {
            Self::Conversation(a, b) if a == user => Some(b),
            Self::Conversation(a, b) if b == user => Some(a),
            _ => None,
        }
    }
}

/// The key (and name) of the conversation between `a` and `b`:
/// `dm:<lower id>:<higher id>`, ids as 32 lowercase hex digits.
pub fn conversation_key(a: Uuid, b: Uuid) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{CONVERSATION_PREFIX}{}:{}", low.simple(), high.simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::ChannelName;
    use proptest::prelude::*;

    fn ids() -> (UserId, UserId) {
        let (a, b) = (UserId::random(), UserId::random());
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    }

    #[test]
    fn a_conversation_key_names_its_two_users_and_no_one_else() {
        let (a, b) = ids();
        let key = conversation_key(b.as_uuid(), a.as_uuid());
        let room = Room::of_key(&key);
        assert_eq!(room, Room::Conversation(a, b));
        assert!(room.may_see(Some(a)) && room.may_see(Some(b)));
        assert!(!room.may_see(Some(UserId::random())));
        assert!(!room.may_see(None));
        assert_eq!(room.other_than(a), Some(b));
    }

    #[test]
    fn keys_that_only_look_like_conversations_are_seen_by_no_one() {
        let (a, b) = ids();
        let (a, b) = (a.as_uuid(), b.as_uuid());
        for key in [
            "dm:".to_owned(),
            "dm:x".to_owned(),
            format!("dm:{}", a.simple()),
            // Not in canonical order, or not in the canonical form.
            format!("dm:{}:{}", b.simple(), a.simple()),
            format!("dm:{}:{}", a.hyphenated(), b.hyphenated()),
            format!("dm:{}:{}:{}", a.simple(), b.simple(), a.simple()),
        ] {
            let room = Room::of_key(&key);
            if a != b {
                assert_eq!(room, Room::Reserved, "{key}");
            }
            assert!(!room.may_see(Some(UserId::from_uuid(a))) || a == b, "{key}");
        }
        assert_eq!(Room::of_key("general"), Room::Public);
        assert!(Room::Public.may_see(None));
    }

    /// One character of a conversation name written another way that
    /// normalizes to the same key: upper case, or its fullwidth form.
    fn variant(c: char, how: u8) -> String {
        match how % 3 {
            0 => c.to_string(),
            1 => c.to_uppercase().collect(),
            _ => match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01)
                    .map(String::from)
                    .unwrap_or_default(),
                other => other.to_string(),
            },
        }
    }

    proptest! {
        /// However a conversation's name is written (any mix of upper
        /// case and fullwidth letters, digits and colons), it is the same
        /// conversation, and only its two participants may see it.
        #[test]
        fn every_case_and_width_variant_of_a_conversation_is_the_same_private_room(
            hows in proptest::collection::vec(any::<u8>(), 3 + 1 + 32 + 1 + 32)
        ) {
            let (a, b) = ids();
            let key = conversation_key(a.as_uuid(), b.as_uuid());
            let written: String = key.chars().zip(&hows).map(|(c, how)| variant(c, *how)).collect();
            let name = ChannelName::parse(&written).unwrap();
            prop_assert_eq!(name.key(), key.clone());
            let room = Room::of_key(&name.key());
            prop_assert_eq!(room, Room::Conversation(a, b));
            prop_assert!(room.may_see(Some(a)) && room.may_see(Some(b)));
            prop_assert!(!room.may_see(Some(UserId::random())));
            prop_assert!(!room.may_see(None));
        }
    }
}
