//! A message of this user's the server has not stored yet, or refused:
//! pending, throttled, or failed with Retry and Discard.

use crate::state::{Chat, Outgoing};
use leptos::prelude::*;

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
