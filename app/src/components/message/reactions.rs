//! The reactions on a message, each a button that toggles one's own.

use crate::model::{Message, Reaction};
use crate::state::Chat;
use leptos::prelude::*;

/// The reactions on a message: one button per emoji, named with the emoji,
/// the count and who reacted (also shown on hover and focus). Pressing
/// one's own removes it; pressing another adds one's own.
#[component]
pub fn Reactions(message: Message) -> impl IntoView {
    let chat = Chat::expect();
    let me = move || {
        chat.user
            .with(|u| u.as_ref().map(|u| u.display_name.clone()))
    };
    let (channel, id) = (message.channel.clone(), message.seq);
    let buttons = message
        .reactions
        .into_iter()
        .map(|Reaction { emoji, users }| {
            let names = users
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let count = users.len();
            let label = format!("{emoji} {count}: {names}");
            let mine = move || me().is_some_and(|me| users.contains(&me));
            let mine_now = mine.clone();
            let channel = channel.clone();
            let text = format!("{emoji} {count}");
            view! {
                <button
                    type="button"
                    class="reaction"
                    class:mine=mine.clone()
                    aria-pressed=move || mine().to_string()
                    aria-label=label
                    on:click=move |_| {
                        chat.react(channel.clone(), id, emoji.clone(), !mine_now());
                    }
                >
                    {text}
                    <span class="who" aria-hidden="true">{names}</span>
                </button>
            }
        })
        .collect_view();
    view! { <div class="reactions">{buttons}</div> }
}
