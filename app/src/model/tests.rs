use super::names::normalized_key;
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
