//! One message (`article`): author, time (`<time datetime>` in UTC, shown in
//! the viewer's local time once hydrated) and body, always as text.

use crate::model::{Message, Timestamp};
use crate::state::{Chat, Outgoing};
use leptos::prelude::*;

#[component]
pub fn MessageItem(message: Message) -> impl IntoView {
    let chat = Chat::expect();
    let mine = {
        let author = message.author.clone();
        move || {
            chat.user
                .with(|u| u.as_ref().is_some_and(|u| u.display_name == author))
        }
    };
    let at = message.sent_at;
    view! {
        <article class="message" class:mine=mine>
            <header class="message-head">
                <span class="author">{message.author.to_string()}</span>
                <MessageTime at/>
            </header>
            <p class="body">{message.body.to_string()}</p>
        </article>
    }
}

/// A message of this user's that the server has not stored yet, or refused.
#[component]
pub fn PendingItem(outgoing: Outgoing) -> impl IntoView {
    let chat = Chat::expect();
    let author = chat.user.with_untracked(|u| {
        u.as_ref()
            .map(|u| u.display_name.to_string())
            .unwrap_or_default()
    });
    let failed = outgoing.failed.clone();
    let is_failed = failed.is_some();
    let retry_id = outgoing.client_id.clone();
    let discard_id = outgoing.client_id.clone();
    view! {
        <article class="message mine pending" class:failed=is_failed aria-busy=(!is_failed).to_string()>
            <header class="message-head">
                <span class="author">{author}</span>
                <span class="pending-note">
                    {if is_failed { "Not sent" } else { "Sending…" }}
                </span>
            </header>
            <p class="body">{outgoing.body.to_string()}</p>
            {failed.map(|reason| view! {
                <p class="error" role="alert">{reason}</p>
                <div class="actions">
                    <button type="button" on:click=move |_| chat.retry(&retry_id)>"Retry"</button>
                    <button type="button" on:click=move |_| chat.discard(&discard_id)>"Discard"</button>
                </div>
            })}
        </article>
    }
}

/// `<time datetime="…Z">`: UTC text on the server, the viewer's local time
/// once the browser has taken over (the server cannot know the time zone).
#[component]
pub fn MessageTime(at: Timestamp) -> impl IntoView {
    let chat = Chat::expect();
    let iso = at.to_rfc3339();
    let utc = at.as_datetime().format("%H:%M UTC").to_string();
    let full_iso = iso.clone();
    let text = move || {
        if chat.hydrated.get() {
            local_time(&full_iso).unwrap_or_else(|| utc.clone())
        } else {
            utc.clone()
        }
    };
    let title = {
        let iso = iso.clone();
        move || {
            if chat.hydrated.get() {
                local_date_time(&iso).unwrap_or_else(|| iso.clone())
            } else {
                iso.clone()
            }
        }
    };
    view! { <time datetime=iso title=title>{text}</time> }
}

/// "14:05" for today, "Nov 24, 14:05" for other days, in the viewer's zone.
fn local_time(iso: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        let today = js_sys::Date::new_0();
        let same_day = date.to_date_string() == today.to_date_string();
        let options = js_sys::Object::new();
        let set = |k: &str, v: &str| {
            let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
        };
        set("hour", "2-digit");
        set("minute", "2-digit");
        if !same_day {
            set("month", "short");
            set("day", "numeric");
        }
        Some(String::from(date.to_locale_string("default", &options)))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = iso;
        None
    }
}

/// The full local date and time, for the tooltip.
fn local_date_time(iso: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        Some(String::from(
            date.to_locale_string("default", &JsValue::UNDEFINED),
        ))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = iso;
        None
    }
}
