//! Browser-only services: the WebSocket (`socket`), file uploads (`upload`)
//! and what the browser remembers in localStorage. On the server every function here is a no-op,
//! so components can call them unconditionally.
//!
//! Invariant: localStorage is read only after hydration (from effects and
//! event handlers), never while rendering, so server and browser HTML match.

use crate::model::ChannelName;

pub mod notify;
pub mod socket;
pub mod upload;

/// Whether the user can see this tab (always "yes" on the server).
pub fn tab_visible() -> bool {
    #[cfg(feature = "browser")]
    {
        leptos::prelude::window()
            .document()
            .is_some_and(|d| !d.hidden())
    }
    #[cfg(not(feature = "browser"))]
    true
}

/// Remembers the channel the user is in, for their next visit.
pub fn remember_channel(channel: &ChannelName) {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        let _ = gloo_storage::LocalStorage::set(crate::state::STORAGE_CHANNEL, channel.as_str());
    }
    #[cfg(not(feature = "browser"))]
    let _ = channel;
}

/// The channel the user was last in, if any and still a valid name.
pub fn remembered_channel() -> Option<ChannelName> {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        let raw: String = gloo_storage::LocalStorage::get(crate::state::STORAGE_CHANNEL).ok()?;
        ChannelName::parse(&raw).ok()
    }
    #[cfg(not(feature = "browser"))]
    None
}

/// Remembers the display name, so a returning visitor is signed in again
/// without being asked when the server forgot their session.
pub fn remember_name(name: &str) {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        let _ = gloo_storage::LocalStorage::set(crate::state::STORAGE_DISPLAY_NAME, name);
    }
    #[cfg(not(feature = "browser"))]
    let _ = name;
}

pub fn remembered_name() -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        gloo_storage::LocalStorage::get(crate::state::STORAGE_DISPLAY_NAME).ok()
    }
    #[cfg(not(feature = "browser"))]
    None
}

/// Forgets who this browser was and where (after signing out, here or
/// everywhere): the next visit starts at the name prompt.
pub fn forget_identity() {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        gloo_storage::LocalStorage::delete(crate::state::STORAGE_DISPLAY_NAME);
        gloo_storage::LocalStorage::delete(crate::state::STORAGE_CHANNEL);
    }
}

/// This tab's user was signed out (`why` says how): forget them, and the
/// workspace shows the name prompt with `why`.
pub fn signed_out(chat: crate::state::Chat, why: &str) {
    use leptos::prelude::*;
    forget_identity();
    chat.log.set(Default::default());
    chat.outbox.set(Vec::new());
    chat.user.set(None);
    chat.notice.set(Some(why.to_owned()));
}

/// Signs in again under the remembered name when the server no longer knows
/// this browser's session (an in-memory server restarted). If the name was
/// taken meanwhile, the user is signed out and the prompt asks again.
pub async fn restore_session(chat: crate::state::Chat) {
    use leptos::prelude::*;
    match crate::api::me().await {
        Ok(Some(user)) => chat.user.set(Some(user)),
        Ok(None) => match remembered_name() {
            Some(name) => match crate::api::register(name).await {
                Ok(user) => chat.user.set(Some(user)),
                Err(err) => {
                    chat.notice.set(Some(format!(
                        "Your session ended and your name could not be restored: {}",
                        err.message
                    )));
                    chat.user.set(None);
                }
            },
            None => chat.user.set(None),
        },
        // Unreachable server: keep what we have; the socket keeps trying.
        Err(_) => {}
    }
}
