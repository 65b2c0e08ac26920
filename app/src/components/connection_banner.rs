//! A banner above the composer while the link is down ("Reconnecting…" or
//! "Offline"), saying that what is typed will still go out; gone once
//! connected. The status line (`role="status"`) announces the same to
//! screen readers, so the banner is for the eye.

use crate::state::{Chat, ConnectionStatus};
use leptos::prelude::*;

#[component]
pub fn ConnectionBanner() -> impl IntoView {
    let chat = Chat::expect();
    let text = move || match chat.status.get() {
        ConnectionStatus::Reconnecting { .. } => {
            Some("Reconnecting… your messages will be sent when the connection is back")
        }
        ConnectionStatus::Offline => {
            Some("Offline: your messages will be sent when you are back online")
        }
        _ => None,
    };
    view! {
        {move || text().map(|text| view! {
            <p class="connection-banner" aria-hidden="true">{text}</p>
        })}
    }
}
