//! "People": everyone, live, marked online, away or offline (a text label
//! for screen readers, a dot for the eye); each name opens a private
//! conversation. Online first, then away, then
//! offline, each by name.

use crate::model::{lowercase, Person, PresenceStatus};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::components::A;

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
                    children=|Person { name, status }| {
                        let label = status.label();
                        let href = name.conversation_path();
                        let shown = name.to_string();
                        view! {
                            <li class=format!("person {label}") title=format!("{name} is {label}")>
                                <span class="presence-dot" aria-hidden="true"></span>
                                <A href=href>
                                    <span class="person-name">{shown}</span>
                                </A>
                                <span class="presence-label">{format!(", {label}")}</span>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}
