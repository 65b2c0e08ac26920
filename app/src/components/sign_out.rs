//! "Sign out" and "Sign out everywhere": end this browser's session, or
//! every session of this user (their sockets elsewhere close at once).
//! Flack has no passwords: a session is the only proof of who someone is,
//! and a name signed out of stays its user's (so nobody else can take over
//! its messages and conversations). Each button says so and asks first.

use crate::state::Chat;
use leptos::prelude::*;

/// What signing out means, for the confirmation.
fn warning(everywhere: bool, name: &str) -> String {
    let what = if everywhere {
        "Sign out everywhere? Every browser signed in as"
    } else {
        "Sign out of this browser? You are signed in as"
    };
    format!(
        "{what} {name}. Flack has no passwords: once signed out, the name {name} stays \
         reserved and you will choose a new name to come back."
    )
}

/// Asks the person to confirm (always "yes" on the server, which never
/// runs this).
fn confirmed(question: &str) -> bool {
    #[cfg(feature = "browser")]
    {
        window().confirm_with_message(question).unwrap_or(false)
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = question;
        true
    }
}

#[component]
pub fn SignOut() -> impl IntoView {
    let chat = Chat::expect();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let sign_out = move |everywhere: bool| {
        move |_| {
            let name = chat.user.with_untracked(|u| {
                u.as_ref()
                    .map(|u| u.display_name.to_string())
                    .unwrap_or_default()
            });
            if !confirmed(&warning(everywhere, &name)) {
                return;
            }
            busy.set(true);
            leptos::task::spawn_local(async move {
                let done = if everywhere {
                    crate::api::sign_out_everywhere().await
                } else {
                    crate::api::sign_out().await
                };
                busy.set(false);
                match done {
                    Ok(()) => crate::state::session::signed_out(chat, "Signed out."),
                    Err(err) => error.set(Some(err.message)),
                }
            });
        }
    };
    let disabled = move || !chat.hydrated.get() || busy.get();
    view! {
        <div class="sign-out">
            <button type="button" on:click=sign_out(false) disabled=disabled>
                "Sign out"
            </button>
            <button type="button" on:click=sign_out(true) disabled=disabled>
                "Sign out everywhere"
            </button>
            {move || error.get().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        </div>
    }
}
