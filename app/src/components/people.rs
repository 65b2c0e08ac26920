//! "People": everyone, live, marked online, away or offline (a text label
//! for screen readers, a dot for the eye); clicking a name opens (starts
//! if need be) the private conversation with that person. Online first,
//! then away, then offline, each by name.

use crate::model::{lowercase, DisplayName, Person, PresenceStatus};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// Clicking a person opens the conversation with them: the click is the
/// visitor's own action, so it may start one (a same-origin POST), then
/// the page shows it. A visit to `/dm/<name>` alone starts nothing.
fn open_with(name: DisplayName) -> impl Fn(leptos::ev::MouseEvent) + 'static {
    let navigate = use_navigate();
    let chat = Chat::expect();
    move |ev| {
        ev.prevent_default();
        let (name, navigate) = (name.clone(), navigate.clone());
        leptos::task::spawn_local(async move {
            if let Err(err) = crate::api::open_conversation(name.to_string()).await {
                chat.notice.set(Some(err.message));
            }
            chat.refresh_unread();
            navigate(&name.conversation_path(), Default::default());
        });
    }
}

fn rank(status: PresenceStatus) -> u8 {
    match status {
        PresenceStatus::Online => 0,
        PresenceStatus::Away => 1,
        PresenceStatus::Offline => 2,
    }
}

#[component]
pub fn People() -> impl IntoView {
    let chat = Chat::expect();
    let sorted = move || {
        let mut people = chat.people.get();
        people.sort_by_cached_key(|p| (rank(p.status), lowercase(p.name.as_str())));
        people
    };
    view! {
        <section class="people" aria-labelledby="people-title">
            <h2 id="people-title" class="section-title">"People"</h2>
            <ul aria-label="People">
                <For
                    each=sorted
                    key=|p| p.clone()
                    children=move |Person { name, status }| {
                        let label = status.label();
                        let href = name.conversation_path();
                        let shown = name.to_string();
                        let open = open_with(name.clone());
                        view! {
                            <li class=format!("person {label}") title=format!("{name} is {label}")>
                                <span class="presence-dot" aria-hidden="true"></span>
                                <a href=href on:click=open>
                                    <span class="person-name">{shown}</span>
                                </a>
                                <span class="presence-label">{format!(", {label}")}</span>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}
