//! `/c/:channel`: a channel's history and live messages, and the composer.
//! The server renders the history; in the browser the socket continues it
//! from the history's `head`, so nothing between the two is missed or doubled.

use crate::api;
use crate::components::{composer::Composer, message_log::MessageLog, typing_line::TypingLine};
use crate::model::ChannelName;
use crate::state::Chat;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ChannelPage() -> impl IntoView {
    let chat = Chat::expect();
    let params = use_params_map();
    let raw_name = move || params.read().get("channel").unwrap_or_default();
    let history = Resource::new(raw_name, api::fetch_history);

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading channel…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(history) => {
                        let name = history.channel.name.clone();
                        chat.open_channel(history);
                        view! { <ChannelView name/> }.into_any()
                    }
                    Err(err) => {
                        chat.log.set(Default::default());
                        view! {
                            <section class="empty-pane">
                                <h1>"Channel unavailable"</h1>
                                <p role="alert" class="error">{err.message}</p>
                            </section>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn ChannelView(name: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    let base = format!("#{name} · Flack");
    // The tab shows how much is unread elsewhere.
    let title = move || {
        let total: u32 = chat.unread.with(|u| u.iter().map(|x| x.unread).sum());
        if total > 0 {
            format!("({total}) {base}")
        } else {
            base.clone()
        }
    };
    view! {
        <Title text=title/>
        <header class="channel-head">
            <h1><span class="hash" aria-hidden="true">"#"</span>{name.to_string()}</h1>
        </header>
        <MessageLog channel=name.clone()/>
        <TypingLine channel=name.clone()/>
        <Composer channel=name/>
    }
}
