//! Who this tab is signed in as: restored when the server forgot the
//! session, and forgotten when it ends.

use super::Chat;
use crate::browser;
use leptos::prelude::*;

/// This tab's user was signed out (`why` says how): forget them, and the
/// workspace shows the name prompt with `why`.
pub fn signed_out(chat: Chat, why: &str) {
    browser::forget_identity();
    chat.log.set(Default::default());
    chat.outbox.set(Vec::new());
    chat.user.set(None);
    chat.notice.set(Some(why.to_owned()));
}

/// Signs in again under the remembered name when the server no longer knows
/// this browser's session (an in-memory server restarted). If the name was
/// taken meanwhile, the user is signed out and the prompt asks again.
pub async fn restore_session(chat: Chat) {
    match crate::api::me().await {
        Ok(Some(user)) => chat.user.set(Some(user)),
        Ok(None) => match browser::remembered_name() {
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
