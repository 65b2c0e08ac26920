//! The first-visit prompt: choose a display name (1–32 characters, unique
//! ignoring case). Refusals show in an alert and the prompt stays.

use crate::api;
use crate::components::field::{sentence, FieldError, TextField};
use crate::model::DisplayName;
use crate::state::Chat;
use leptos::prelude::*;

#[component]
pub fn NamePrompt() -> impl IntoView {
    let chat = Chat::expect();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Once live: offer the remembered name (read after hydration only) and
    // put the cursor in the field (it was disabled, so `autofocus` could
    // not take).
    Effect::new(move |_| {
        if !chat.hydrated.get() {
            return;
        }
        if name.get_untracked().is_empty() {
            if let Some(remembered) = crate::browser::remembered_name() {
                name.set(remembered);
            }
        }
        // After this frame's render, when the field is enabled.
        #[cfg(feature = "browser")]
        request_animation_frame(|| {
            use leptos::wasm_bindgen::JsCast;
            if let Some(field) = document()
                .get_element_by_id("display-name")
                .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok())
            {
                let _ = field.focus();
            }
        });
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let raw = name.get_untracked();
        if let Err(e) = DisplayName::parse(&raw) {
            error.set(Some(sentence(&e.to_string())));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::register(raw).await {
                Ok(user) => {
                    crate::browser::remember_name(user.display_name.as_str());
                    error.set(None);
                    chat.notice.set(None);
                    chat.user.set(Some(user));
                }
                Err(e) => error.set(Some(sentence(&e.message))),
            }
            busy.set(false);
        });
    };

    view! {
        <main class="welcome">
            <form class="card" on:submit=submit>
                <h1 class="brand">"Flack"</h1>
                <p>"Chat in channels, live. Pick the name others will see."</p>
                {move || chat.notice.get().map(|n| view! { <p class="notice">{n}</p> })}
                <label for="display-name">"Display name"</label>
                <TextField
                    id="display-name"
                    name="display_name"
                    value=name
                    error
                    autocomplete="nickname"
                    autofocus=true
                />
                <button type="submit" disabled=move || !chat.hydrated.get() || busy.get()>
                    "Continue"
                </button>
                <FieldError for_id="display-name" error/>
            </form>
        </main>
    }
}
