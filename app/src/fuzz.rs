//! Property-based fuzzing of everything that parses client input: frame
//! decoding and the name, body and id rules. Run with more cases by setting
//! `PROPTEST_CASES` (scripts/test does); a failure is saved under
//! `app/proptest-regressions/` (commit it with the fix) and replayed first
//! on every run.
//!
//! The properties: parsing never panics; whatever is accepted satisfies its
//! rule and survives a round trip; whatever is refused says why.

use crate::model::{
    ChannelName, ClientId, DisplayName, MessageBody, CHANNEL_NAME_MAX_CHARS,
    DISPLAY_NAME_MAX_CHARS, MESSAGE_BODY_MAX_CHARS,
};
use crate::protocol::{decode_as_value, decode_client_frame, ClientFrame};
use proptest::prelude::*;

/// JSON-ish text: mostly well-formed frames with hostile field values,
/// sometimes truncated or garbled.
fn frame_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<String>().prop_map(serde_json::Value::String),
        "[\\PC\\s]{0,120}".prop_map(serde_json::Value::String),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
    ];
    let key = prop_oneof![
        Just("type".to_owned()),
        Just("channel".to_owned()),
        Just("client_id".to_owned()),
        Just("body".to_owned()),
        Just("after".to_owned()),
        Just("author".to_owned()),
        Just("id".to_owned()),
        Just("seq".to_owned()),
        Just("emoji".to_owned()),
        Just("add".to_owned()),
        Just("away".to_owned()),
        "[a-z_]{1,8}",
    ];
    let kind = prop_oneof![
        Just("join"),
        Just("send"),
        Just("ping"),
        Just("read"),
        Just("edit"),
        Just("delete"),
        Just("react"),
        Just("away"),
        Just("typing"),
        Just("dance"),
        Just("")
    ];
    // A tag and values in an array: what serde would take for a frame.
    let array = (kind.clone(), proptest::collection::vec(value.clone(), 0..5)).prop_map(
        |(kind, values)| {
            let mut items = vec![serde_json::Value::from(kind)];
            items.extend(values);
            serde_json::Value::Array(items).to_string()
        },
    );
    // Written out by hand, so keys (`type` too) can repeat.
    let repeating = (
        kind.clone(),
        proptest::collection::vec((key.clone(), value.clone()), 0..6),
    )
        .prop_map(|(kind, fields)| {
            let mut text = format!(r#"{{"type":"{kind}""#);
            for (k, v) in fields {
                text.push_str(&format!(",{}:{v}", serde_json::Value::from(k)));
            }
            text + "}"
        });
    let object =
        (kind, proptest::collection::vec((key, value), 0..6)).prop_map(|(kind, fields)| {
            let mut map = serde_json::Map::new();
            map.insert("type".into(), kind.into());
            for (k, v) in fields {
                map.insert(k, v);
            }
            serde_json::Value::Object(map).to_string()
        });
    prop_oneof![
        4 => object.clone(),
        2 => repeating,
        1 => array,
        1 => (object, any::<usize>()).prop_map(|(text, cut)| {
            let cut = cut % (text.len() + 1);
            text.char_indices().map(|(i, _)| i).take_while(|&i| i <= cut).last().map_or(String::new(), |i| text[..i].to_owned())
        }),
        1 => any::<String>(),
    ]
}

proptest! {
    #[test]
    fn decoding_any_text_never_panics_and_accepted_frames_round_trip(text in frame_text()) {
        match decode_client_frame(&text) {
            Ok(frame) => {
                let again = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(decode_client_frame(&again).unwrap(), frame);
            }
            Err(err) => prop_assert!(!err.message.is_empty()),
        }
    }

    #[test]
    fn the_one_pass_decode_agrees_with_the_json_value_reading(text in frame_text()) {
        prop_assert_eq!(decode_client_frame(&text), decode_as_value(&text));
    }

    #[test]
    fn accepted_names_satisfy_their_rules(raw in any::<String>()) {
        if let Ok(name) = DisplayName::parse(&raw) {
            let s = name.as_str();
            prop_assert_eq!(s, s.trim());
            prop_assert!((1..=DISPLAY_NAME_MAX_CHARS).contains(&s.chars().count()));
            prop_assert!(!s.chars().any(char::is_control));
            prop_assert_eq!(DisplayName::parse(s).unwrap(), name.clone());
        }
        if let Ok(name) = ChannelName::parse(&raw) {
            let s = name.as_str();
            prop_assert!((1..=CHANNEL_NAME_MAX_CHARS).contains(&s.chars().count()));
            prop_assert!(!s.contains('/') && !s.chars().any(char::is_control));
            prop_assert_eq!(ChannelName::parse(s).unwrap(), name.clone());
        }
    }

    #[test]
    fn accepted_bodies_and_ids_satisfy_their_rules(raw in any::<String>()) {
        match MessageBody::parse(&raw) {
            Ok(body) => {
                let s = body.as_str();
                prop_assert_eq!(s, s.trim_end());
                prop_assert!((1..=MESSAGE_BODY_MAX_CHARS).contains(&s.chars().count()));
                prop_assert_eq!(MessageBody::parse(s).unwrap(), body.clone());
            }
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
        if let Ok(id) = ClientId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.as_str());
        }
    }

    #[test]
    fn a_send_frame_with_any_body_is_either_valid_or_refused_with_its_client_id(body in any::<String>()) {
        let text = serde_json::json!({"type": "send", "channel": "general", "client_id": "c1", "body": body}).to_string();
        match decode_client_frame(&text) {
            Ok(ClientFrame::Send { body: parsed, .. }) => prop_assert_eq!(Ok(parsed), MessageBody::parse(&body)),
            Ok(other) => prop_assert!(false, "decoded as {:?}", other),
            Err(err) => prop_assert_eq!(err.client_id.as_deref(), Some("c1")),
        }
    }
}
