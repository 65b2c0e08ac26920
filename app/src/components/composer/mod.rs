//! The composer: a field labelled "Message". Enter sends, Shift+Enter adds a
//! line, Up in an empty field edits your last message, and `@` offers the
//! people to mention (a listbox: arrows choose, Enter or Tab completes,
//! Esc closes). Empty messages are not sent; a refused one keeps its draft and says
//! why.

mod buttons;
mod counter;
mod mention;
mod outgoing;

use crate::components::attachments::{Upload, UploadTray};
use crate::components::field::FieldError;
use crate::model::ChannelName;
use crate::state::Chat;
use buttons::ComposerButtons;
use counter::LengthCounter;
use leptos::html::Textarea;
use leptos::prelude::*;
use mention::{Completion, MentionList};
use outgoing::Outgoing;

/// The least time between two `typing` notices from this composer.
const TYPING_EVERY_MS: f64 = 3_000.0;

#[component]
pub fn Composer(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    // The draft this channel had when the user left it, if any.
    let draft = RwSignal::new(
        (chat.drafts)
            .with_untracked(|d| d.get(&channel).cloned())
            .unwrap_or_default(),
    );
    let outgoing = Outgoing {
        draft,
        uploads: RwSignal::new(Vec::<Upload>::new()),
        error: RwSignal::new(None),
    };
    let Outgoing { error, uploads, .. } = outgoing;
    let field = NodeRef::<Textarea>::new();
    let completion = Completion::new(field, draft);
    let placeholder = format!("Message #{channel}");
    let typing = StoredValue::new(f64::NEG_INFINITY);
    let send = {
        let channel = channel.clone();
        move || {
            if outgoing.send(chat, &channel) {
                remember_draft(chat, &channel, "");
            }
        }
    };
    let send_on_submit = send.clone();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if completion.on_key(&ev) {
            return;
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        } else if ev.key() == "ArrowUp" && draft.with_untracked(|d| d.trim().is_empty()) {
            edit_last(chat, &ev);
        }
    };
    let on_input = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        remember_draft(chat, &channel, &typed);
        if !typed.trim().is_empty() {
            tell_typing(typing, &channel);
        }
        let wants_names = typed.contains('@');
        draft.set(typed);
        error.set(None);
        if wants_names && chat.users.with_untracked(Vec::is_empty) {
            chat.refresh_users();
        }
        completion.update(chat);
    };
    completion.follow_users(chat);
    let dropping = RwSignal::new(false);

    view! {
        <form
            class="composer"
            class:dropping=move || dropping.get()
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send_on_submit();
            }
            on:dragover=move |ev: leptos::ev::DragEvent| {
                // Accepting the drag is what makes a drop possible.
                ev.prevent_default();
                dropping.set(true);
            }
            on:dragleave=move |_| dropping.set(false)
            on:drop=move |ev: leptos::ev::DragEvent| {
                dropping.set(false);
                dropped(&ev, uploads);
            }
        >
            <UploadTray uploads/>
            <label for="message-input" class="visually-hidden">"Message"</label>
            <textarea
                id="message-input"
                name="body"
                rows="1"
                node_ref=field
                placeholder=placeholder
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby="message-input-error"
                aria-autocomplete="list"
                aria-controls=move || completion.is_open().then_some("mention-list")
                aria-activedescendant=move || {
                    completion.is_open().then(|| format!("mention-{}", completion.active.get()))
                }
                prop:value=move || draft.get()
                on:input=on_input
                on:focus=move |_| chat.refresh_users()
                on:blur=move |_| completion.close()
                on:keydown=on_keydown
                disabled=move || !chat.hydrated.get()
            ></textarea>
            <MentionList completion/>
            <ComposerButtons uploads/>
            <LengthCounter draft/>
            <FieldError for_id="message-input" error/>
        </form>
    }
}

/// Files dropped on the composer are uploaded, as if chosen.
fn dropped(ev: &leptos::ev::DragEvent, uploads: RwSignal<Vec<Upload>>) {
    ev.prevent_default();
    #[cfg(feature = "browser")]
    if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
        crate::components::attachments::upload_all(files, uploads);
    }
    #[cfg(not(feature = "browser"))]
    let _ = uploads;
}

/// Keeps what is typed in `channel` for when the user comes back to it.
fn remember_draft(chat: Chat, channel: &ChannelName, text: &str) {
    chat.drafts.update(|d| {
        if text.is_empty() {
            d.remove(channel);
        } else {
            d.insert(channel.clone(), text.to_owned());
        }
    })
}

/// Tells the channel this user is typing, at most once every few seconds.
fn tell_typing(last: StoredValue<f64>, channel: &ChannelName) {
    let now = crate::browser::now_ms();
    if now - last.get_value() > TYPING_EVERY_MS {
        last.set_value(now);
        crate::browser::outbound::typing(channel.clone());
    }
}

/// Up in an empty composer edits your last message, as in Slack.
fn edit_last(chat: Chat, ev: &leptos::ev::KeyboardEvent) {
    let last = chat.user.with_untracked(|u| {
        let me = u.as_ref()?;
        (chat.log).with_untracked(|log| log.last_by(&me.display_name).map(|m| m.seq))
    });
    if let Some(id) = last {
        ev.prevent_default();
        chat.editing.set(Some(id));
    }
}
