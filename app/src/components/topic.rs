//! A channel's topic in its header, live (`topic` frames), and "Set topic":
//! a one-line form any member can use; saving a blank topic clears it.

use crate::api;
use crate::components::field::sentence;
use crate::model::{ChannelName, Topic, TopicText, TOPIC_MAX_CHARS};
use crate::state::Chat;
use leptos::prelude::*;

#[component]
pub fn ChannelTopic(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    let editing = RwSignal::new(false);
    let topic = move || chat.log.with(|log| log.topic.clone());
    view! {
        <div class="topic">
            <p class="topic-text" role="note" aria-label="Topic" aria-live="polite">
                {move || topic_view(topic())}
            </p>
            <Show
                when=move || editing.get()
                fallback=move || {
                    view! {
                        <button
                            type="button"
                            class="set-topic"
                            on:click=move |_| editing.set(true)
                            disabled=move || !chat.hydrated.get()
                        >
                            "Set topic"
                        </button>
                    }
                }
            >
                <TopicForm channel=channel.clone() current=topic() editing/>
            </Show>
        </div>
    }
}

/// The topic as the server rendered it, or its text, or a hint.
fn topic_view(topic: Option<Topic>) -> AnyView {
    match topic {
        Some(Topic { html, .. }) if !html.is_empty() => {
            view! { <span inner_html=html></span> }.into_any()
        }
        Some(Topic { text, .. }) => view! { <span>{text.to_string()}</span> }.into_any(),
        None => view! { <span class="topic-none">"No topic"</span> }.into_any(),
    }
}

#[component]
fn TopicForm(
    channel: ChannelName,
    current: Option<Topic>,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let text = RwSignal::new(current.map(|t| t.text.to_string()).unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let raw = text.get_untracked();
        if let Err(e) = TopicText::parse_optional(&raw) {
            error.set(Some(sentence(&e.to_string())));
            return;
        }
        busy.set(true);
        let channel = channel.to_string();
        leptos::task::spawn_local(async move {
            match api::set_topic(channel, raw).await {
                Ok(_) => editing.set(false),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            editing.set(false);
        }
    };
    view! {
        <form class="topic-form" on:submit=submit on:keydown=on_keydown>
            <input
                type="text"
                aria-label="Topic"
                maxlength=TOPIC_MAX_CHARS
                node_ref=input
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            />
            <button type="submit" disabled=move || busy.get()>"Save topic"</button>
            <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
            {move || error.get().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        </form>
    }
}
