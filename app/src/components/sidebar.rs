//! The sidebar: who you are, the connection status, the channel list, the
//! form to create a channel, the people list and signing out. On narrow
//! screens it folds behind a toggle.

use crate::components::{
    channel_form::ChannelForm, channel_list::ChannelList, connection_status::ConnectionStatusLine,
    conversation_list::ConversationList, notifications_toggle::NotificationsToggle, people::People,
    sign_out::SignOut,
};
use crate::state::Chat;
use leptos::prelude::*;

#[component]
pub fn Sidebar() -> impl IntoView {
    let chat = Chat::expect();
    let open = RwSignal::new(false);
    // Opening a channel (by link or by creating it) folds the menu on phones.
    let shown = Memo::new(move |_| chat.log.with(|l| l.channel.clone()));
    Effect::new(move |_| {
        // Read (not just tracked) so the memo is evaluated and subscribed.
        let _ = shown.get();
        open.set(false);
    });
    let name = move || {
        chat.user.with(|u| {
            u.as_ref()
                .map(|u| u.display_name.to_string())
                .unwrap_or_default()
        })
    };
    view! {
        <aside class="sidebar" class:open=move || open.get()>
            <div class="sidebar-head">
                <span class="brand">"Flack"</span>
                <button
                    type="button"
                    class="menu-toggle"
                    aria-controls="sidebar-body"
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    "Menu"
                </button>
            </div>
            // Who you are and the link's state stay visible on phones too.
            <div class="sidebar-info">
                <p class="me">
                    "Signed in as " <strong class="me-name">{name}</strong>
                </p>
                <ConnectionStatusLine/>
            </div>
            <div id="sidebar-body" class="sidebar-body" on:click=move |ev| {
                // Following any channel link (even the open one) folds it too.
                if clicked_link(&ev) {
                    open.set(false);
                }
            }>

                <ChannelList/>
                <ConversationList/>
                <ChannelForm/>
                <People/>
                <NotificationsToggle/>
                <SignOut/>
            </div>
        </aside>
    }
}

/// Whether a click landed on (or inside) a link.
fn clicked_link(ev: &leptos::ev::MouseEvent) -> bool {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsCast;
        ev.target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|el| el.closest("a").ok().flatten())
            .is_some()
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = ev;
        false
    }
}
