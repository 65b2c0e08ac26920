//! "Add reaction": the palette of emoji to react with.

use crate::model::{Emoji, Message, REACTIONS};
use crate::state::Chat;
use leptos::prelude::*;

/// "Add reaction": opens the palette of `REACTIONS`.
#[component]
pub fn ReactionPicker(message: Message) -> impl IntoView {
    let chat = Chat::expect();
    let open = RwSignal::new(false);
    let (channel, id) = (message.channel.clone(), message.seq);
    let mine: Vec<Emoji> = chat.user.with_untracked(|u| {
        let Some(me) = u.as_ref().map(|u| &u.display_name) else {
            return Vec::new();
        };
        message
            .reactions
            .iter()
            .filter(|r| r.users.contains(me))
            .map(|r| r.emoji.clone())
            .collect()
    });
    view! {
        <div class="picker-wrap">
            <button
                type="button"
                class="icon"
                aria-label="Add reaction"
                title="Add reaction"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >"☺"</button>
            <Show when=move || open.get()>
                <div
                    class="picker"
                    role="group"
                    aria-label="Choose a reaction"
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Escape" {
                            open.set(false);
                        }
                    }
                >
                    {REACTIONS
                        .iter()
                        .filter_map(|e| Emoji::parse(e).ok())
                        .map(|emoji| {
                            let add = !mine.contains(&emoji);
                            let channel = channel.clone();
                            let label = format!("React with {emoji}");
                            let text = emoji.to_string();
                            view! {
                                <button
                                    type="button"
                                    aria-label=label
                                    on:click=move |_| {
                                        chat.react(channel.clone(), id, emoji.clone(), add);
                                        open.set(false);
                                    }
                                >{text}</button>
                            }
                        })
                        .collect_view()}
                </div>
            </Show>
        </div>
    }
}
