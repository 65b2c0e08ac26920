//! The connection status line (`role="status"`): connected, reconnecting
//! with the next try, or offline. It never hides a broken link.

use crate::state::{Chat, ConnectionStatus};
use leptos::prelude::*;

#[component]
pub fn ConnectionStatusLine() -> impl IntoView {
    let chat = Chat::expect();
    let class = move || match chat.status.get() {
        ConnectionStatus::Connected => "status connected",
        ConnectionStatus::Offline => "status offline",
        ConnectionStatus::Reconnecting { .. } => "status reconnecting",
        ConnectionStatus::Idle | ConnectionStatus::Connecting => "status connecting",
    };
    view! {
        <p role="status" class=class>
            <span class="dot" aria-hidden="true"></span>
            {move || chat.status.get().label()}
        </p>
    }
}
