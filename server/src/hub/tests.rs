//! The hub over the in-memory log: its rules, and what viewers see.

use super::*;
use crate::chat::{HubError, Outcome};
use app::model::{
    Attachment, ChannelName, ClientId, DisplayName, Emoji, Message, MessageBody, UserInfo,
    HISTORY_LEN,
};
use app::protocol::{frame, ServerFrame};
use bytes::Bytes;
use proptest::prelude::*;
use std::collections::VecDeque;
use tokio_util::sync::CancellationToken;

/// A message's `seq`, and whether this call stored it (false for a retry).
struct Posted {
    seq: u64,
    stored: bool,
}

fn hub_with(channel: &str) -> (Hub, UserInfo, ChannelName) {
    let hub = Hub::new(HubLimits::default());
    let (user, _, _) = hub
        .register(DisplayName::parse("alice").unwrap(), None)
        .unwrap();
    let name = ChannelName::parse(channel).unwrap();
    hub.create_channel(&user, name.clone()).unwrap();
    (hub, user, name)
}

fn draft(channel: &ChannelName, id: &str, body: &str) -> Draft {
    Draft {
        channel: channel.clone(),
        client_id: ClientId::parse(id).unwrap(),
        body: MessageBody::parse(body).unwrap(),
        attachments: Vec::new(),
        reply_to: None,
    }
}

/// Sends through the in-memory log, which settles at once.
fn post(hub: &Hub, user: &UserInfo, channel: &ChannelName, id: &str) -> Posted {
    let sent = hub.post(user, draft(channel, id, &format!("body {id}")));
    match futures::executor::block_on(sent) {
        Ok(Proposed::Now(Ok(Outcome::Stored { seq }))) => Posted { seq, stored: true },
        Ok(Proposed::Now(Ok(Outcome::Duplicate { seq }))) => Posted { seq, stored: false },
        other => panic!("not stored: {other:?}"),
    }
}

/// The `seq` of an event's frame.
fn seq_of(frame: &str) -> u64 {
    match ServerFrame::from_json(frame).unwrap() {
        ServerFrame::Message(m) => m.seq,
        ServerFrame::Edited(e) => e.seq,
        ServerFrame::Deleted(d) => d.seq,
        ServerFrame::Reactions(r) => r.seq,
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn display_names_are_unique_ignoring_case() {
    let hub = Hub::new(HubLimits::default());
    hub.register(DisplayName::parse("Alice").unwrap(), None)
        .unwrap();
    let err = hub
        .register(DisplayName::parse("aLICE").unwrap(), None)
        .unwrap_err();
    assert_eq!(err, HubError::NameTaken("aLICE".into()));
}

#[test]
fn registering_your_own_name_again_keeps_your_user_and_session() {
    let hub = Hub::new(HubLimits::default());
    let (first, token, _) = hub
        .register(DisplayName::parse("alice").unwrap(), None)
        .unwrap();
    let session = token.unwrap().hash();
    let (again, token, _) = hub
        .register(DisplayName::parse("Alice").unwrap(), Some(&session))
        .unwrap();
    assert_eq!(first.user_id, again.user_id);
    assert!(
        token.is_none(),
        "the cookie the caller has proves it already"
    );
    assert_eq!(hub.user_by_session(&session), Some(first));
}

/// A browser that takes a new name gets a new cookie: the session its
/// old cookie held is nobody's to use any more, so it ends.
#[test]
fn a_new_user_replaces_the_callers_session_and_sign_out_ends_sessions() {
    let hub = Hub::new(HubLimits::default());
    let name = |n: &str| DisplayName::parse(n).unwrap();
    let (dave, token, _) = hub.register(name("dave"), None).unwrap();
    let old = token.unwrap().hash();
    let (erin, token, _) = hub.register(name("erin"), Some(&old)).unwrap();
    let new = token.unwrap().hash();
    assert_eq!(hub.user_by_session(&old), None, "replaced");
    assert_eq!(hub.user_by_session(&new), Some(erin.clone()));
    let (_, other, _) = hub.register(name("frank"), None).unwrap();
    let ended = CancellationToken::new();
    let _online = hub.connect(&erin, new, ended.clone());
    hub.sign_out(&new).unwrap();
    assert_eq!(hub.user_by_session(&new), None);
    assert!(ended.is_cancelled(), "its connections close");
    let frank = other.unwrap().hash();
    assert!(
        hub.user_by_session(&frank).is_some(),
        "others' sessions stay"
    );
    hub.sign_out_everywhere(&dave).unwrap();
}

#[test]
fn signing_out_everywhere_ends_every_session_of_that_user_only() {
    let hub = Hub::new(HubLimits::default());
    let name = |n: &str| DisplayName::parse(n).unwrap();
    let (alice, token, _) = hub.register(name("alice"), None).unwrap();
    let first = token.unwrap().hash();
    let (bob, token, _) = hub.register(name("bob"), None).unwrap();
    let bobs = token.unwrap().hash();
    let (tab1, tab2) = (CancellationToken::new(), CancellationToken::new());
    let _a = hub.connect(&alice, first, tab1.clone());
    let _b = hub.connect(&bob, bobs, tab2.clone());
    hub.sign_out_everywhere(&alice).unwrap();
    assert_eq!(hub.user_by_session(&first), None);
    assert!(tab1.is_cancelled() && !tab2.is_cancelled());
    assert_eq!(hub.user_by_session(&bobs), Some(bob));
}

#[test]
fn channel_names_are_unique_ignoring_case() {
    let (hub, user, _) = hub_with("General");
    let err = hub
        .create_channel(&user, ChannelName::parse("general").unwrap())
        .unwrap_err();
    assert_eq!(err, HubError::ChannelExists("General".into()));
    assert_eq!(hub.channels().len(), 1);
}

#[test]
fn a_retried_client_id_stores_one_message_with_one_seq() {
    let (hub, user, channel) = hub_with("general");
    let first = post(&hub, &user, &channel, "c1");
    let retry = post(&hub, &user, &channel, "c1");
    assert_eq!((first.seq, first.stored), (1, true));
    assert_eq!((retry.seq, retry.stored), (1, false));
    assert_eq!(hub.history(None, &channel).unwrap().messages.len(), 1);
}

#[test]
fn after_150_messages_the_channel_holds_the_last_100() {
    let (hub, user, channel) = hub_with("general");
    for i in 0..150 {
        post(&hub, &user, &channel, &format!("c{i}"));
    }
    let history = hub.history(None, &channel).unwrap();
    assert_eq!(history.head, 150);
    let seqs: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (51..=150).collect::<Vec<_>>());
}

#[test]
fn joining_after_a_point_no_longer_held_resets() {
    let (hub, user, channel) = hub_with("general");
    for i in 0..150 {
        post(&hub, &user, &channel, &format!("c{i}"));
    }
    let joined = hub.join(&user, &channel, Some(10)).unwrap();
    assert!(joined.reset.is_some());
    assert_eq!(joined.backlog.len(), 100);
    let joined = hub.join(&user, &channel, Some(50)).unwrap();
    assert!(joined.reset.is_none());
    assert_eq!(joined.backlog.len(), 100);
    let joined = hub.join(&user, &channel, Some(999)).unwrap();
    assert!(
        joined.reset.is_some(),
        "a point from the future is not trusted"
    );
}

#[test]
fn the_live_receiver_continues_exactly_after_the_backlog() {
    let (hub, user, channel) = hub_with("general");
    post(&hub, &user, &channel, "a");
    let mut joined = hub.join(&user, &channel, Some(0)).unwrap();
    post(&hub, &user, &channel, "b");
    assert_eq!(
        joined.backlog.iter().map(|f| seq_of(f)).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(joined.live.try_recv().unwrap().seq, 2);
    assert!(joined.live.try_recv().is_err());
}

#[test]
fn posting_to_an_unknown_channel_is_refused() {
    let (hub, user, _) = hub_with("general");
    let nope = ChannelName::parse("nope").unwrap();
    let err = futures::executor::block_on(hub.post(&user, draft(&nope, "x", "hi"))).unwrap_err();
    assert_eq!(err, HubError::UnknownChannel("nope".into()));
}

#[test]
fn only_the_author_edits_or_deletes_and_everyone_reacts_once() {
    let (hub, alice, channel) = hub_with("general");
    let (bob, _, _) = hub
        .register(DisplayName::parse("bob").unwrap(), None)
        .unwrap();
    let id = post(&hub, &alice, &channel, "a").seq;
    let body = || MessageBody::parse("**changed**").unwrap();
    assert_eq!(
        hub.edit(&bob, &channel, id, body()).unwrap_err(),
        HubError::NotAuthor("edit")
    );
    assert_eq!(
        hub.delete(&bob, &channel, id).unwrap_err(),
        HubError::NotAuthor("delete")
    );
    assert_eq!(
        hub.edit(&alice, &channel, 99, body()).unwrap_err(),
        HubError::UnknownMessage(99)
    );
    hub.edit(&alice, &channel, id, body()).unwrap();
    let thumbs = || Emoji::parse("👍").unwrap();
    hub.react(&bob, &channel, id, thumbs(), true).unwrap();
    hub.react(&bob, &channel, id, thumbs(), true).unwrap();
    hub.react(&alice, &channel, id, thumbs(), true).unwrap();
    let history = hub.history(None, &channel).unwrap();
    let message = &history.messages[0];
    assert_eq!(message.body.as_str(), "**changed**");
    assert_eq!(message.html, "<p><strong>changed</strong></p>\n");
    assert!(message.edited_at.is_some());
    assert_eq!(message.reactions.len(), 1);
    assert_eq!(
        message.reactions[0].users.len(),
        2,
        "bob's second add changed nothing"
    );
    assert_eq!(
        history.head, 4,
        "post, edit, two reactions: the repeated add is no event"
    );
    hub.delete(&alice, &channel, id).unwrap();
    assert!(hub.history(None, &channel).unwrap().messages.is_empty());
    assert_eq!(
        hub.react(&bob, &channel, id, thumbs(), false).unwrap_err(),
        HubError::UnknownMessage(id)
    );
}

#[test]
fn mentions_are_looked_up_with_one_lock_however_many_candidates() {
    let (hub, alice, channel) = hub_with("general");
    hub.register(DisplayName::parse("Bob").unwrap(), None)
        .unwrap();
    let body = format!("hi @bob, {}", "@nobody @x,y,z @a.b ".repeat(300));
    let locks = || hub.core.locks.load(std::sync::atomic::Ordering::Relaxed);
    let before = locks();
    let rendered = hub.render(&body);
    assert_eq!(locks() - before, 1, "one look at the users");
    assert_eq!(rendered.mentions, [DisplayName::parse("Bob").unwrap()]);
    assert!(rendered
        .html
        .contains(r#"<span class="mention">@bob</span>"#));
    // An edit renders before it locks, and its mentions are right too.
    let id = post(&hub, &alice, &channel, "m").seq;
    let body = MessageBody::parse("now @BOB").unwrap();
    hub.edit(&alice, &channel, id, body).unwrap();
    let history = hub.history(None, &channel).unwrap();
    assert_eq!(history.messages[0].mentions, rendered.mentions);
}

/// A channel costs little until used: many are made cheaply (a
/// conversation per pair of users), and few are ever viewed.
#[test]
fn a_new_channel_allocates_its_ring_and_live_queue_only_when_used() {
    let (hub, alice, channel) = hub_with("general");
    {
        let inner = hub.lock();
        let room = inner.state.channel("general").unwrap();
        assert_eq!(room.ring.capacity(), 0);
        assert!(!inner.live.contains_key("general"));
    }
    let _viewer = hub.join(&alice, &channel, None).unwrap();
    post(&hub, &alice, &channel, "m");
    let inner = hub.lock();
    let room = inner.state.channel("general").unwrap();
    assert!(inner.live.contains_key("general"));
    assert_eq!(room.ring.len(), 1);
}

/// One user editing one long message full of mentions over and over
/// pinned ~28 MB per channel in a log bounded only by count.
#[test]
fn the_event_log_is_bounded_by_bytes_as_well_as_by_count() {
    let (hub, alice, channel) = hub_with("general");
    let long = "y".repeat(3990);
    let id = post(&hub, &alice, &channel, "m").seq;
    for i in 0..600 {
        let body = MessageBody::parse(&format!("{i} {long}")).unwrap();
        hub.edit(&alice, &channel, id, body).unwrap();
    }
    let (log_events, log_bytes) = {
        let inner = hub.lock();
        let room = inner.state.channel("general").unwrap();
        assert_eq!(
            room.log_frame_bytes(),
            room.log_bytes,
            "the count is kept exactly"
        );
        (room.log_len(), room.log_bytes)
    };
    let limit = HubLimits::default().event_log_bytes;
    assert!(log_bytes <= limit, "{log_bytes} bytes held");
    assert!(log_events < 600, "{log_events} events held");
    // A viewer resuming from before what is held starts over.
    let joined = hub.join(&alice, &channel, Some(1)).unwrap();
    assert!(joined.reset.is_some());
    assert_eq!(joined.backlog.len(), 1, "the message as it is now");
    let recent = hub.join(&alice, &channel, Some(joined.head - 1)).unwrap();
    assert!(recent.reset.is_none());
    assert_eq!(recent.backlog.len(), 1);
}

#[test]
fn a_resume_never_resends_a_deleted_message() {
    let (hub, user, channel) = hub_with("general");
    let id = post(&hub, &user, &channel, "secret").seq;
    hub.edit(
        &user,
        &channel,
        id,
        MessageBody::parse("still secret").unwrap(),
    )
    .unwrap();
    hub.delete(&user, &channel, id).unwrap();
    let joined = hub.join(&user, &channel, Some(0)).unwrap();
    assert!(joined.reset.is_none());
    let frames: Vec<&str> = joined.backlog.iter().map(|f| f.as_str()).collect();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert!(frames[0].contains(r#""type":"deleted""#), "{frames:?}");
    assert!(!frames[0].contains("secret"));
}

/// The reference for the property below: which messages the server
/// should hold, and the newest one that left by trimming.
#[derive(Default)]
struct Expected {
    held: VecDeque<u64>,
    newest_trimmed: u64,
}

proptest! {
    /// Any sequence of sends, edits, deletions, reactions and resumes:
    /// a viewer that joined once and resumed from its last `seq` ends
    /// with the same messages, bodies and reactions as a fresh join,
    /// and applies events in strictly increasing `seq`.
    #[test]
    fn resuming_yields_the_same_view_as_a_fresh_join(
        ops in proptest::collection::vec((0u8..8, any::<prop::sample::Index>()), 1..400)
    ) {
        let (hub, user, channel) = hub_with("general");
        let mut expected = Expected::default();
        let mut view: Vec<Message> = Vec::new();
        let mut last = 0u64;
        let resume = |view: &mut Vec<Message>, last: &mut u64| -> Result<(), TestCaseError> {
            let joined = hub.join(&user, &channel, Some(*last)).unwrap();
            if joined.reset.is_some() { view.clear(); }
            let mut previous = if joined.reset.is_some() { 0 } else { *last };
            for e in &joined.backlog {
                if joined.reset.is_none() {
                    prop_assert!(seq_of(e) > previous, "events in order");
                    previous = seq_of(e);
                }
                match ServerFrame::from_json(e.as_str()).unwrap() {
                    ServerFrame::Message(m) => {
                        prop_assert!(!view.iter().any(|v| v.seq == m.seq), "never twice");
                        view.push(m);
                    }
                    ServerFrame::Edited(frame::Edited {
                        id, body, html, mentions, edited_at, ..
                    }) => {
                        if let Some(m) = view.iter_mut().find(|m| m.seq == id) {
                            m.apply_edit(body, html, mentions, edited_at);
                        }
                    }
                    ServerFrame::Deleted(frame::Deleted { id, .. }) => {
                        view.retain(|m| m.seq != id)
                    }
                    ServerFrame::Reactions(frame::Reactions { id, reactions, .. }) => {
                        if let Some(m) = view.iter_mut().find(|m| m.seq == id) {
                            m.reactions = reactions;
                        }
                    }
                    other => prop_assert!(false, "unexpected frame {other:?}"),
                }
            }
            *last = joined.head;
            Ok(())
        };
        for (i, (op, pick)) in ops.iter().enumerate() {
            let target = (!expected.held.is_empty())
                .then(|| expected.held[pick.index(expected.held.len())]);
            match (op, target) {
                (0, _) => resume(&mut view, &mut last)?,
                (5, Some(id)) => {
                    hub.edit(&user, &channel, id, MessageBody::parse(&format!("edit {i}")).unwrap()).unwrap();
                }
                (6, Some(id)) => {
                    hub.delete(&user, &channel, id).unwrap();
                    expected.held.retain(|&h| h != id);
                }
                (7, Some(id)) => {
                    let emoji = Emoji::parse(app::model::REACTIONS[i % 3]).unwrap();
                    hub.react(&user, &channel, id, emoji, i % 2 == 0).unwrap();
                }
                _ => {
                    let seq = post(&hub, &user, &channel, &format!("c{i}")).seq;
                    expected.held.push_back(seq);
                    if expected.held.len() > HISTORY_LEN {
                        expected.newest_trimmed = expected.held.pop_front().unwrap();
                    }
                }
            }
        }
        resume(&mut view, &mut last)?;
        let fresh = hub.history(None, &channel).unwrap().messages;
        prop_assert_eq!(fresh.iter().map(|m| m.seq).collect::<Vec<_>>(), Vec::from(expected.held.clone()));
        let recent: Vec<Message> = view.into_iter().filter(|m| m.seq > expected.newest_trimmed).collect();
        prop_assert_eq!(recent, fresh);
    }
}

/// A hub on a SQLite log in `dir`: proposals settle later, once committed.
fn sqlite_hub(dir: &std::path::Path, files: crate::blobs::FileLimits) -> Hub {
    let settings = crate::log::sqlite::Settings {
        dir: dir.to_owned(),
        queue: 64,
        files: files.clone(),
    };
    let opened = crate::log::sqlite::open(settings, CancellationToken::new()).unwrap();
    Hub::start(
        HubLimits {
            files,
            ..HubLimits::default()
        },
        opened,
    )
}

/// Ending a session nobody holds records nothing: anyone can send a
/// made-up cookie to `sign_out`, and it must not cost a log entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_session_nobody_holds_writes_nothing_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_hub(dir.path(), Default::default());
    let made_up = TokenHash::of("made up");
    assert!(
        matches!(hub.sign_out(&made_up), Ok(Proposed::Now(Ok(Outcome::Done)))),
        "settled at once: nothing was proposed"
    );
    let mut state = crate::chat::State::default();
    let at = super::now();
    let ended = Entry::SessionsEnded {
        hashes: vec![made_up],
    };
    let applied = state.apply(ended, || at, Keep::Accepted);
    assert!(applied.accepted.is_none() && applied.effects.is_empty());
    hub.close().await;
}

/// Two sends with one `client_id` in flight at once, each with its own
/// file: the second is a duplicate when applied, and its file, claimed
/// when it was proposed, goes back to its uploader (to attach again, and
/// to expire if never sent), not lost while counting against the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_loses_the_race_gives_its_files_back() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_hub(dir.path(), Default::default());
    let (user, _, p) = hub
        .register(DisplayName::parse("alice").unwrap(), None)
        .unwrap();
    hub.settled(p).await.unwrap();
    let general = ChannelName::parse("general").unwrap();
    let (_, p) = hub.create_channel(&user, general.clone()).unwrap();
    hub.settled(p).await.unwrap();
    let with = |id: &str, file: &Attachment| Draft {
        attachments: vec![file.id.clone()],
        ..draft(&general, id, "hi")
    };
    let mut raced = 0;
    for i in 0..20 {
        let a = hub
            .upload(&user, "a.txt", Bytes::from_static(b"aaaa"))
            .await
            .unwrap();
        let b = hub
            .upload(&user, "b.txt", Bytes::from_static(b"bbbb"))
            .await
            .unwrap();
        let id = format!("c{i}");
        let first = hub.post(&user, with(&id, &a)).await.unwrap();
        let second = hub.post(&user, with(&id, &b)).await.unwrap();
        let lost_race = matches!(second, Proposed::Later(_));
        hub.settled(first).await.unwrap();
        let retried = hub.settled(second).await.unwrap();
        if lost_race {
            assert!(matches!(retried, Outcome::Duplicate { .. }), "{retried:?}");
            raced += 1;
            let again = hub
                .post(&user, with(&format!("again{i}"), &b))
                .await
                .unwrap();
            let again = hub.settled(again).await.unwrap();
            assert!(
                matches!(again, Outcome::Stored { .. }),
                "b is alice's to send again"
            );
        }
    }
    assert!(raced > 0, "no retry was in flight with its original");
    hub.close().await;
}

/// A channel's live queue goes with its last viewer: one user opening
/// many quiet channels pins no memory for them.
#[test]
fn a_channel_nobody_views_keeps_no_live_queue() {
    let (hub, user, general) = hub_with("general");
    let watching = hub.join(&user, &general, None).unwrap();
    for i in 0..50 {
        let name = ChannelName::parse(&format!("c{i}")).unwrap();
        hub.create_channel(&user, name.clone()).unwrap();
        drop(hub.join(&user, &name, None).unwrap());
    }
    assert_eq!(hub.lock().live.len(), 1, "only #general is viewed");
    let second = hub.join(&user, &general, None).unwrap();
    drop(watching);
    assert_eq!(hub.lock().live.len(), 1, "#general still has a viewer");
    drop(second);
    assert!(hub.lock().live.is_empty());
}

/// A reply proposed while its thread's first message was still there,
/// and applied after it went, is refused: acknowledged, it would be
/// stored nowhere. (The race itself: the check and the commit are apart
/// with `--data-dir` and Redis; here the entry is proposed directly.)
#[test]
fn a_reply_applied_after_its_thread_went_is_refused() {
    let (hub, alice, general) = hub_with("general");
    let root = post(&hub, &alice, &general, "root").seq;
    let deleted = hub.delete(&alice, &general, root).unwrap();
    assert!(matches!(deleted, Proposed::Now(Ok(_))));
    let reply = Message {
        channel: general.clone(),
        seq: 0,
        author: alice.display_name.clone(),
        body: MessageBody::parse("too late").unwrap(),
        sent_at: now(),
        client_id: Some(ClientId::parse("late").unwrap()),
        html: String::new(),
        edited_at: None,
        reactions: Vec::new(),
        mentions: Vec::new(),
        attachments: Vec::new(),
        reply_to: Some(app::model::ReplyTo {
            root,
            also_in_channel: true,
        }),
        replies: None,
    };
    let entry = Entry::Event {
        key: general.key(),
        seq: 0,
        change: crate::chat::Change::Posted(reply),
        send: None,
    };
    match hub.propose(entry) {
        Ok(Proposed::Now(Err(HubError::UnknownMessage(id)))) => assert_eq!(id, root),
        other => panic!("a late reply was not refused: {other:?}"),
    }
    let history = hub.history(Some(&alice), &general).unwrap();
    assert!(history.messages.is_empty(), "{history:?}");
}
