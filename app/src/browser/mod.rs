//! `browser`: what the browser offers, knowing nothing of the chat's state:
//! localStorage (what the browser remembers), the tab's visibility,
//! notifications (`notify`), file uploads (`upload`), and the queue of
//! frames for the socket (`outbound`). On the server every function here is
//! a no-op, so components can call them unconditionally.
//!
//! Invariant: localStorage is read only after hydration (from effects and
//! event handlers), never while rendering, so server and browser HTML match.

use crate::model::ChannelName;

pub mod notify;
pub mod outbound;
pub mod upload;

/// localStorage key of the remembered display name.
pub const STORAGE_DISPLAY_NAME: &str = "flack.display_name";
/// localStorage key of the channel the user was last in.
pub const STORAGE_CHANNEL: &str = "flack.channel";
/// localStorage key of the thread open there, as `<root seq> <channel>`.
pub const STORAGE_THREAD: &str = "flack.thread";

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
        let _ = gloo_storage::LocalStorage::set(STORAGE_CHANNEL, channel.as_str());
    }
    #[cfg(not(feature = "browser"))]
    let _ = channel;
}

/// The channel the user was last in, if any and still a valid name.
pub fn remembered_channel() -> Option<ChannelName> {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        let raw: String = gloo_storage::LocalStorage::get(STORAGE_CHANNEL).ok()?;
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
        let _ = gloo_storage::LocalStorage::set(STORAGE_DISPLAY_NAME, name);
    }
    #[cfg(not(feature = "browser"))]
    let _ = name;
}

pub fn remembered_name() -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        gloo_storage::LocalStorage::get(STORAGE_DISPLAY_NAME).ok()
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
        gloo_storage::LocalStorage::delete(STORAGE_DISPLAY_NAME);
        gloo_storage::LocalStorage::delete(STORAGE_CHANNEL);
        gloo_storage::LocalStorage::delete(STORAGE_THREAD);
    }
}

/// Remembers which thread is open in `channel` (`None`: none), for the
/// next visit.
pub fn remember_thread(channel: &ChannelName, root: Option<u64>) {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        match root {
            Some(root) => {
                let _ =
                    gloo_storage::LocalStorage::set(STORAGE_THREAD, format!("{root} {channel}"));
            }
            None => gloo_storage::LocalStorage::delete(STORAGE_THREAD),
        }
    }
    #[cfg(not(feature = "browser"))]
    let _ = (channel, root);
}

/// The thread that was open in `channel` last time, if any.
pub fn remembered_thread(channel: &ChannelName) -> Option<u64> {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        let raw: String = gloo_storage::LocalStorage::get(STORAGE_THREAD).ok()?;
        let (root, name) = raw.split_once(' ')?;
        (name == channel.as_str()).then(|| root.parse().ok())?
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = channel;
        None
    }
}

/// Puts `text` on the clipboard (a no-op where the browser refuses).
pub fn copy_text(text: &str) {
    #[cfg(feature = "browser")]
    {
        let clipboard = leptos::prelude::window().navigator().clipboard();
        let _ = clipboard.write_text(text);
    }
    #[cfg(not(feature = "browser"))]
    let _ = text;
}

/// This page's origin (`https://chat.example.com`; empty on the server).
pub fn origin() -> String {
    #[cfg(feature = "browser")]
    {
        leptos::prelude::window()
            .location()
            .origin()
            .unwrap_or_default()
    }
    #[cfg(not(feature = "browser"))]
    String::new()
}

/// Runs `then` after `ms` milliseconds (never on the server).
pub fn after(ms: u32, then: impl FnOnce() + 'static) {
    #[cfg(feature = "browser")]
    leptos::task::spawn_local(async move {
        gloo_timers::future::TimeoutFuture::new(ms).await;
        then();
    });
    #[cfg(not(feature = "browser"))]
    let _ = (ms, then);
}

/// Milliseconds since the epoch, as the browser's clock says (0 on the
/// server, which never asks).
pub fn now_ms() -> f64 {
    #[cfg(feature = "browser")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "browser"))]
    0.0
}
