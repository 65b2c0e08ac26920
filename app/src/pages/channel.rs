//! `/c/:channel` and `/dm/:name`: a channel's (or conversation's) history
//! and live messages, and the composer; `/c/:channel/:seq` the same, at
//! message `seq` (a link to a message); `?thread=<seq>` opens that
//! message's thread beside it.
//! The server renders the history; in the browser the socket continues it
//! from the history's `head`, so nothing between the two is missed or doubled.

use crate::api;
use crate::browser;
use crate::components::{
    composer::Composer, connection_banner::ConnectionBanner, message_log::MessageLog,
    thread_panel::ThreadPanel, topic::ChannelTopic, typing_line::TypingLine,
};
use crate::error::ApiError;
use crate::model::{ChannelHistory, ChannelName, DisplayName};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

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
    let link_note = follow_the_url(chat, &name);
    view! {
        <Title text=title/>
        <div class="channel-pane">
            <div class="channel-main">
                <header class="channel-head">
                    <h1>{heading}</h1>
                    <ChannelTopic channel=name.clone()/>
                </header>
                {move || link_note.get().map(|note| view! { <p class="link-note" aria-live="polite">{note}</p> })}
                <MessageLog channel=name.clone()/>
                <TypingLine channel=name.clone()/>
                <ConnectionBanner/>
                <Composer channel=name.clone()/>
            </div>
            <ThreadPanel channel=name/>
        </div>
    }
}

/// What the URL says beyond the channel: the message a link points at
/// (`/:seq`, focused; if it left the window, the page says so: the
/// returned note) and the open thread (`?thread=`, remembered for the
/// next visit).
fn follow_the_url(chat: Chat, name: &ChannelName) -> RwSignal<Option<String>> {
    let note = RwSignal::new(None::<String>);
    let params = use_params_map();
    let query = use_query_map();
    let focus = Memo::new(move |_| params.read().get("seq").and_then(|s| s.parse::<u64>().ok()));
    let thread = Memo::new(move |_| {
        query
            .read()
            .get("thread")
            .and_then(|s| s.parse::<u64>().ok())
    });
    let channel = name.clone();
    Effect::new(move |_| {
        match thread.get() {
            Some(root) => chat.open_thread(root),
            None => chat.close_thread(),
        }
        browser::remember_thread(&channel, thread.get());
    });
    let label = if name.is_conversation() {
        "this conversation".to_owned()
    } else {
        format!("#{name}")
    };
    Effect::new(move |_| {
        chat.focus.set(focus.get());
        note.set(None);
    });
    let reported = StoredValue::new(None::<u64>);
    Effect::new(move |_| {
        let Some(seq) = focus.get().filter(|seq| reported.get_value() != Some(*seq)) else {
            return;
        };
        let gone = chat.log.with(|log| match (thread.get(), &log.thread) {
            (None, _) => !log.messages.iter().any(|m| m.seq == seq),
            (Some(_), Some(view)) if view.loaded => {
                view.first.as_ref().is_none_or(|m| m.seq != seq)
                    && !view.replies.iter().any(|m| m.seq == seq)
            }
            _ => false,
        });
        if gone {
            reported.set_value(Some(seq));
            note.set(Some(format!(
                "That message is no longer here: {label} keeps its last 100 messages (and threads their last 100 replies), or it was deleted."
            )));
        }
    });
    note
}
