//! `/c/:channel`: a channel's history and live messages, and the composer.
//! The server renders the history; in the browser the socket continues it
//! from the history's `head`, so nothing between the two is missed or doubled.

use crate::api;
use crate::components::{composer::Composer, message_log::MessageLog, typing_line::TypingLine};
use crate::error::ApiError;
use crate::model::{ChannelHistory, ChannelName};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ChannelPage() -> impl IntoView {
    let params = use_params_map();
    let raw_name = move || params.read().get("channel").unwrap_or_default();
    let history = Resource::new(raw_name, api::fetch_history);
    view! { <Opened history/> }
}

/// `/dm/:name`: the private conversation with that user, started if need be.
#[component]
pub fn ConversationPage() -> impl IntoView {
    let params = use_params_map();
    let with = move || params.read().get("name").unwrap_or_default();
    let history = Resource::new(with, |with| async move {
        let channel = api::open_conversation(with).await?;
        api::fetch_history(channel.name.to_string()).await
    });
    view! { <Opened history/> }
}

/// A channel or conversation once its history is loaded (or why not).
#[component]
fn Opened(history: Resource<Result<ChannelHistory, ApiError>>) -> impl IntoView {
    let chat = Chat::expect();
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
    // A conversation is shown by whom it is with.
    let label = {
        let name = name.clone();
        move || {
            if name.is_conversation() {
                let with = chat.conversations.with(|c| {
                    c.iter()
                        .find(|c| c.channel == name)
                        .map(|c| c.with.to_string())
                });
                format!("@{}", with.unwrap_or_else(|| "…".into()))
            } else {
                format!("#{name}")
            }
        }
    };
    let heading = label.clone();
    // The tab shows how much is unread elsewhere.
    let title = move || {
        let base = format!("{} · Flack", label());
        let total: u32 = chat.unread.with(|u| u.iter().map(|x| x.unread).sum());
        if total > 0 {
            format!("({total}) {base}")
        } else {
            base
        }
    };
    view! {
        <Title text=title/>
        <header class="channel-head">
            <h1>{heading}</h1>
        </header>
        <MessageLog channel=name.clone()/>
        <TypingLine channel=name.clone()/>
        <Composer channel=name/>
    }
}
