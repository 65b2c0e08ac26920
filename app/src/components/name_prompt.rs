//! The first-visit prompt: choose a display name (1–32 characters, unique
//! ignoring case). Refusals show in an alert and the prompt stays.

use crate::api;
use crate::model::DisplayName;
use crate::state::Chat;
use leptos::prelude::*;

#[component]
pub fn NamePrompt() -> impl IntoView {
    let chat = Chat::expect();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Offer the remembered name (read after hydration only).
    Effect::new(move |_| {
        if chat.hydrated.get() && name.get_untracked().is_empty() {
            if let Some(remembered) = crate::client::remembered_name() {
                name.set(remembered);
            }
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let raw = name.get_untracked();
        if let Err(e) = DisplayName::parse(&raw) {
            error.set(Some(capitalize(&e.to_string())));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::register(raw).await {
                Ok(user) => {
                    crate::client::remember_name(user.display_name.as_str());
                    error.set(None);
                    chat.notice.set(None);
                    chat.user.set(Some(user));
                }
                Err(e) => error.set(Some(capitalize(&e.message))),
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
                <input
                    id="display-name"
                    name="display_name"
                    autocomplete="nickname"
                    autofocus
                    aria-invalid=move || error.with(Option::is_some).to_string()
                    aria-describedby="display-name-error"
                    prop:value=move || name.get()
                    on:input=move |ev| {
                        name.set(event_target_value(&ev));
                        error.set(None);
                    }
                    disabled=move || !chat.hydrated.get()
                />
                <button type="submit" disabled=move || !chat.hydrated.get() || busy.get()>
                    "Continue"
                </button>
                <div id="display-name-error">
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                </div>
            </form>
        </main>
    }
}

/// "display name must not be empty" -> "Display name must not be empty".
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
