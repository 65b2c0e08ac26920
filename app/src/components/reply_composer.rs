//! The thread's composer: a field named "Reply" (Enter sends, Shift+Enter
//! adds a line) and "Also send to #channel", which puts the reply in the
//! channel's messages too.

use crate::components::field::sentence;
use crate::model::{ChannelName, InputError, MessageBody, ReplyTo};
use crate::state::Chat;
use leptos::html::Textarea;
use leptos::prelude::*;

#[component]
pub fn ReplyComposer(channel: ChannelName, root: u64) -> impl IntoView {
    let chat = Chat::expect();
    let draft = RwSignal::new(String::new());
    let also = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let field = NodeRef::<Textarea>::new();
    // Opening a thread is for answering it: the field takes focus.
    Effect::new(move |_| {
        if let Some(el) = field.get() {
            let _ = el.focus();
        }
    });
    let also_label = if channel.is_conversation() {
        "Also send to the conversation".to_owned()
    } else {
        format!("Also send to #{channel}")
    };
    let send = move || match MessageBody::parse(&draft.get_untracked()) {
        Ok(body) => {
            let reply_to = ReplyTo {
                root,
                also_in_channel: also.get_untracked(),
            };
            chat.send(channel.clone(), body, Vec::new(), Some(reply_to));
            draft.set(String::new());
            error.set(None);
        }
        Err(InputError::Empty { .. }) => {}
        Err(e) => error.set(Some(sentence(&e.to_string()))),
    };
    let send_on_submit = send.clone();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    view! {
        <form
            class="composer reply-composer"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send_on_submit();
            }
        >
            <textarea
                rows="1"
                aria-label="Reply"
                placeholder="Reply…"
                node_ref=field
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    error.set(None);
                }
                on:keydown=on_keydown
                disabled=move || !chat.hydrated.get()
            ></textarea>
            <button type="submit" disabled=move || !chat.hydrated.get()>"Send reply"</button>
            <label class="also-send">
                <input type="checkbox" prop:checked=move || also.get()
                    on:change=move |ev| also.set(event_target_checked(&ev))/>
                {also_label}
            </label>
            {move || error.get().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        </form>
    }
}
