//! "Copy link": puts a message's stable address on the clipboard
//! (`/c/<channel>/<seq>`, with `?thread=<root>` for a reply; PROTOCOL.md
//! §3.14), and says so for a moment.

use crate::model::Message;
use leptos::prelude::*;

/// How long "Copied" shows.
const COPIED_MS: u32 = 2_000;

#[component]
pub fn CopyLink(message: Message) -> impl IntoView {
    let copied = RwSignal::new(false);
    let path = message.path();
    let copy = move |_| {
        crate::browser::copy_text(&format!("{}{path}", crate::browser::origin()));
        copied.set(true);
        crate::browser::after(COPIED_MS, move || copied.set(false));
    };
    view! {
        <button type="button" class="icon" aria-label="Copy link" title="Copy link" on:click=copy>
            "🔗"
        </button>
        <Show when=move || copied.get()>
            <span class="copied" aria-live="polite">"Link copied"</span>
        </Show>
    }
}
