//! "Desktop notifications": a checkbox in the sidebar. Turning it on is the
//! only thing that asks the browser for permission; a refusal is explained
//! and leaves it off. The choice is remembered per user.

use crate::browser::notify::{self, Permission};
use crate::state::Chat;
use leptos::prelude::*;

#[component]
pub fn NotificationsToggle() -> impl IntoView {
    let chat = Chat::expect();
    let problem = RwSignal::new(None::<&'static str>);
    let toggle = move |on: bool| {
        let Some(user) = chat
            .user
            .with_untracked(|u| u.as_ref().map(|u| u.display_name.clone()))
        else {
            return;
        };
        if !on {
            notify::set_enabled(&user, false);
            chat.notify.set(false);
            problem.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let allowed = match notify::request().await {
                Permission::Granted => true,
                Permission::Denied => {
                    problem.set(Some(
                        "Notifications are blocked for this site in your browser's settings.",
                    ));
                    false
                }
                Permission::Unsupported => {
                    problem.set(Some("This browser cannot show notifications."));
                    false
                }
                Permission::Ask => false,
            };
            if allowed {
                problem.set(None);
            }
            notify::set_enabled(&user, allowed);
            chat.notify.set(allowed);
        });
    };
    view! {
        <div class="notifications-toggle">
            <label>
                <input
                    type="checkbox"
                    prop:checked=move || chat.notify.get()
                    disabled=move || !chat.hydrated.get()
                    on:change=move |ev| toggle(event_target_checked(&ev))
                />
                " Desktop notifications"
            </label>
            <span class="hint">"for mentions while Flack is in the background"</span>
            {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
        </div>
    }
}
