//! Searching messages: a `search` landmark with a field named "Search
//! messages" (`/` focuses it unless you are typing somewhere). Results come
//! as you type (debounced), newest first, each with where, who, when and
//! the matched words marked; a click opens the message in its channel (or
//! thread), scrolled into view and highlighted. The server decides what
//! matches and what you may see (PROTOCOL.md §3.14).

use crate::api;
use crate::components::message::time::MessageTime;
use crate::model::{Message, SearchHit};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// How long typing must pause before a search goes out.
const DEBOUNCE_MS: u32 = 250;

/// What the results panel shows.
#[derive(Clone)]
enum Found {
    Hits { query: String, hits: Vec<SearchHit> },
    Failed(String),
}

#[component]
pub fn SearchBox() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let found = RwSignal::new(None::<Found>);
    let typed = StoredValue::new(0u32);
    let field = NodeRef::<leptos::html::Input>::new();
    slash_focuses(field);
    let on_input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        text.set(value.clone());
        let this = typed.get_value() + 1;
        typed.set_value(this);
        if value.trim().is_empty() {
            found.set(None);
            return;
        }
        crate::browser::after(DEBOUNCE_MS, move || {
            if typed.get_value() == this {
                run(value, this, typed, found);
            }
        });
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            typed.update_value(|n| *n += 1);
            text.set(String::new());
            found.set(None);
        }
    };
    view! {
        <div class="search" role="search" aria-label="Search messages">
            <input
                type="search"
                aria-label="Search messages"
                placeholder="Search messages  /"
                node_ref=field
                prop:value=move || text.get()
                on:input=on_input
                on:keydown=on_keydown
            />
            {move || found.get().map(|f| view! { <Results found=f close=move || found.set(None)/> })}
        </div>
    }
}

/// Sends search number `this`; its answer shows only if nothing was typed
/// since.
fn run(query: String, this: u32, typed: StoredValue<u32>, found: RwSignal<Option<Found>>) {
    leptos::task::spawn_local(async move {
        let answer = match api::search(query.clone()).await {
            Ok(hits) => Found::Hits { query, hits },
            Err(e) => Found::Failed(e.message),
        };
        if typed.get_value() == this {
            found.set(Some(answer));
        }
    });
}

#[component]
fn Results(found: Found, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    match found {
        Found::Failed(message) => view! { <p class="search-results error" role="alert">{message}</p> }.into_any(),
        Found::Hits { query, hits } if hits.is_empty() => view! {
            <p class="search-results search-empty">{format!("No messages match “{query}”.")}</p>
        }
        .into_any(),
        Found::Hits { hits, .. } => view! {
            <ul class="search-results" aria-label="Search results">
                {hits.into_iter().map(|hit| view! { <Hit hit close=close.clone()/> }).collect_view()}
            </ul>
        }
        .into_any(),
    }
}

#[component]
fn Hit(hit: SearchHit, close: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    let chat = Chat::expect();
    let navigate = use_navigate();
    let SearchHit { message, marks } = hit;
    let path = message.path();
    let place = place_of(chat, &message);
    let at = message.sent_at;
    let open = move |_| {
        close();
        navigate(&path, Default::default());
    };
    view! {
        <li>
            <button type="button" class="hit" on:click=open>
                <span class="hit-head">
                    <span class="hit-place">{place}</span>
                    <span class="author">{message.author.to_string()}</span>
                    <MessageTime at/>
                </span>
                <span class="hit-body">{marked(message.body.as_str(), &marks)}</span>
            </button>
        </li>
    }
}

/// Where a message is: `#channel` or `@person`, and "in a thread".
fn place_of(chat: Chat, message: &Message) -> String {
    let place = if message.channel.is_conversation() {
        let with = chat.conversations.with_untracked(|c| {
            (c.iter().find(|c| c.channel == message.channel)).map(|c| c.with.to_string())
        });
        format!("@{}", with.unwrap_or_else(|| "…".into()))
    } else {
        format!("#{}", message.channel)
    };
    match message.reply_to {
        Some(_) => format!("{place} · in a thread"),
        None => place,
    }
}

/// `body` as text with the marked ranges in `<mark>`.
fn marked(body: &str, marks: &[[u32; 2]]) -> Vec<AnyView> {
    let mut parts = Vec::new();
    let mut at = 0;
    for &[start, end] in marks {
        let (start, end) = (start as usize, end as usize);
        let (Some(before), Some(hit)) = (body.get(at..start), body.get(start..end)) else {
            continue;
        };
        parts.push(before.to_owned().into_any());
        parts.push(view! { <mark>{hit.to_owned()}</mark> }.into_any());
        at = end;
    }
    parts.push(body.get(at..).unwrap_or_default().to_owned().into_any());
    parts
}

/// `/` anywhere but in a field with text in it focuses the search field.
fn slash_focuses(field: NodeRef<leptos::html::Input>) {
    #[cfg(feature = "browser")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() != "/"
                || ev.ctrl_key()
                || ev.meta_key()
                || ev.alt_key()
                || typing_elsewhere()
            {
                return;
            }
            if let Some(el) = field.get_untracked() {
                ev.prevent_default();
                let _ = el.focus();
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "browser"))]
    let _ = field;
}

/// Whether focus is in a text field that has text in it (`/` is typed).
#[cfg(feature = "browser")]
fn typing_elsewhere() -> bool {
    use leptos::wasm_bindgen::JsValue;
    let Some(active) = document().active_element() else {
        return false;
    };
    let tag = active.tag_name();
    if tag != "INPUT" && tag != "TEXTAREA" {
        return active.get_attribute("contenteditable").is_some();
    }
    let value = js_sys::Reflect::get(&active, &JsValue::from_str("value")).ok();
    value
        .and_then(|v| v.as_string())
        .is_some_and(|v| !v.is_empty())
}
