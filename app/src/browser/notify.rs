//! Desktop notifications (the Notification API) for mentions while the
//! tab is hidden. Permission is asked only when the user turns them on
//! (never on load), and the choice is remembered per user in localStorage.
//! On the server every function here is a no-op.

use crate::model::{lowercase, DisplayName};

/// What the browser allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Granted,
    Denied,
    /// Not asked yet.
    Ask,
    Unsupported,
}

fn setting_key(user: &DisplayName) -> String {
    format!("flack.notifications.{}", lowercase(user.as_str()))
}

/// Whether `user` turned notifications on in this browser.
pub fn enabled(user: &DisplayName) -> bool {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        gloo_storage::LocalStorage::get::<bool>(setting_key(user)).unwrap_or(false)
            && permission() == Permission::Granted
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = setting_key(user);
        false
    }
}

/// Remembers `user`'s choice.
pub fn set_enabled(user: &DisplayName, on: bool) {
    #[cfg(feature = "browser")]
    {
        use gloo_storage::Storage;
        let _ = gloo_storage::LocalStorage::set(setting_key(user), on);
    }
    #[cfg(not(feature = "browser"))]
    let _ = (user, on);
}

pub fn permission() -> Permission {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let supported = js_sys::Reflect::has(
            &leptos::prelude::window(),
            &JsValue::from_str("Notification"),
        )
        .unwrap_or(false);
        if !supported {
            return Permission::Unsupported;
        }
        match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Granted => Permission::Granted,
            web_sys::NotificationPermission::Denied => Permission::Denied,
            _ => Permission::Ask,
        }
    }
    #[cfg(not(feature = "browser"))]
    Permission::Unsupported
}

/// Asks the browser (only ever from a user's click) and answers what it allows.
pub async fn request() -> Permission {
    #[cfg(feature = "browser")]
    {
        if permission() != Permission::Ask {
            return permission();
        }
        if let Ok(promise) = web_sys::Notification::request_permission() {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        }
        permission()
    }
    #[cfg(not(feature = "browser"))]
    Permission::Unsupported
}

/// Shows a notification now (no-op without permission or on the server).
pub fn show(title: &str, body: &str) {
    #[cfg(feature = "browser")]
    {
        if permission() != Permission::Granted {
            return;
        }
        let options = web_sys::NotificationOptions::new();
        options.set_body(body);
        options.set_tag("flack");
        let _ = web_sys::Notification::new_with_options(title, &options);
    }
    #[cfg(not(feature = "browser"))]
    let _ = (title, body);
}
