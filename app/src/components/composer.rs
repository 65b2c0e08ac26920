//! The composer: a field labelled "Message". Enter sends, Shift+Enter adds a
//! line, Up in an empty field edits your last message. Empty messages are not sent; a refused one keeps its draft and says
//! why.

use crate::components::field::{sentence, FieldError};
use crate::model::{ChannelName, InputError, MessageBody, MESSAGE_BODY_MAX_CHARS};
use crate::state::Chat;
use leptos::prelude::*;

/// Past this many characters the composer shows a counter.
const COUNTER_FROM: usize = MESSAGE_BODY_MAX_CHARS - 500;

#[component]
pub fn Composer(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let placeholder = format!("Message #{channel}");

    let send = move || match MessageBody::parse(&draft.get_untracked()) {
        Ok(body) => {
            chat.send(channel.clone(), body);
            draft.set(String::new());
            error.set(None);
        }
        // Nothing to send: not an error worth a message.
        Err(InputError::Empty { .. }) => {}
        Err(e) => error.set(Some(sentence(&e.to_string()))),
    };
    let send_on_submit = send.clone();

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        } else if ev.key() == "ArrowUp" && draft.with_untracked(|d| d.trim().is_empty()) {
            // Up in an empty composer edits your last message, as in Slack.
            let last = chat.user.with_untracked(|u| {
                let me = u.as_ref()?;
                chat.log
                    .with_untracked(|log| log.last_by(&me.display_name).map(|m| m.seq))
            });
            if let Some(id) = last {
                ev.prevent_default();
                chat.editing.set(Some(id));
            }
        }
    };
    let length = move || draft.with(|d| d.trim_end().chars().count());

    view! {
        <form
            class="composer"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send_on_submit();
            }
        >
            <label for="message-input" class="visually-hidden">"Message"</label>
            <textarea
                id="message-input"
                name="body"
                rows="1"
                placeholder=placeholder
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby="message-input-error"
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    error.set(None);
                }
                on:keydown=on_keydown
                disabled=move || !chat.hydrated.get()
            ></textarea>
            <button type="submit" disabled=move || !chat.hydrated.get()>"Send"</button>
            <Show when=move || { length() > COUNTER_FROM }>
                <span class="counter" class:over=move || { length() > MESSAGE_BODY_MAX_CHARS }>
                    {move || format!("{} / {}", length(), MESSAGE_BODY_MAX_CHARS)}
                </span>
            </Show>
            <FieldError for_id="message-input" error/>
        </form>
    }
}
