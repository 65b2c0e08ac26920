//! `/c/:channel` and `/dm/:name`: a channel's (or conversation's) history
//! and live messages, and the composer.
//! The server renders the history; in the browser the socket continues it
//! from the history's `head`, so nothing between the two is missed or doubled.

use crate::api;
use crate::components::{
    composer::Composer, message_log::MessageLog, topic::ChannelTopic, typing_line::TypingLine,
};
use crate::error::ApiError;
use crate::model::{ChannelHistory, ChannelName, DisplayName};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ChannelPage() -> impl IntoView {
    let params = use_params_map();
    let raw_name = move || params.read().get("channel").unwrap_or_default();
    let shown = Resource::new(raw_name, |name| async move {
        api::fetch_history(name).await.map(Shown::History)
    });
    view! { <Opened shown/> }
}

/// `/dm/:name`: the private conversation with that user. Visiting starts
/// nothing (a link on any site can bring someone here): a conversation
/// never started shows a button that starts it.
#[component]
pub fn ConversationPage() -> impl IntoView {
    let params = use_params_map();
    let with = move || params.read().get("name").unwrap_or_default();
    let shown = Resource::new(with, |with| async move {
        match api::find_conversation(with.clone()).await? {
            Some(channel) => api::fetch_history(channel.name.to_string())
                .await
                .map(Shown::History),
            None => Ok(Shown::NotStarted(DisplayName::parse(&with)?)),
        }
    });
    view! { <Opened shown/> }
}

/// What a channel page shows once loaded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Shown {
    History(ChannelHistory),
    /// A conversation with this user that was never started.
    NotStarted(DisplayName),
}

/// A channel or conversation once its history is loaded (or why not).
#[component]
fn Opened(shown: Resource<Result<Shown, ApiError>>) -> impl IntoView {
    let chat = Chat::expect();
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading channel…"</p> }>
            {move || Suspend::new(async move {
                match shown.await {
                    Ok(Shown::History(history)) => {
                        let name = history.channel.name.clone();
                        chat.open_channel(history);
                        view! { <ChannelView name/> }.into_any()
                    }
                    Ok(Shown::NotStarted(with)) => {
                        chat.log.set(Default::default());
                        view! { <NotStarted with on_start=move || shown.refetch()/> }.into_any()
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

/// A conversation with `with` that nobody started: the visitor starts it
/// with their own click (a same-origin POST), never by visiting.
#[component]
fn NotStarted(with: DisplayName, on_start: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    let chat = Chat::expect();
    let on_start = std::sync::Arc::new(on_start);
    let error = RwSignal::new(None::<String>);
    let starting = RwSignal::new(false);
    let start = {
        let with = with.to_string();
        move |_| {
            let (with, on_start) = (with.clone(), on_start.clone());
            starting.set(true);
            leptos::task::spawn_local(async move {
                match api::open_conversation(with).await {
                    Ok(_) => {
                        chat.refresh_unread();
                        on_start();
                    }
                    Err(err) => error.set(Some(err.message)),
                }
                starting.set(false);
            });
        }
    };
    view! {
        <Title text=format!("@{with} · Flack")/>
        <header class="channel-head">
            <h1>{format!("@{with}")}</h1>
        </header>
        <div class="log" role="log" aria-label="Messages"></div>
        <section class="empty-pane">
            <p>{format!("You have no conversation with {with} yet.")}</p>
            <button
                type="button"
                on:click=start
                disabled=move || !chat.hydrated.get() || starting.get()
            >
                "Start conversation"
            </button>
            {move || error.get().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        </section>
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
            <ChannelTopic channel=name.clone()/>
        </header>
        <MessageLog channel=name.clone()/>
        <TypingLine channel=name.clone()/>
        <Composer channel=name/>
    }
}
