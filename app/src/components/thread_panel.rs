//! The open thread (a `complementary` region named "Thread"): its first
//! message, its replies live, this user's replies on their way, and the
//! reply composer. Beside the channel on wide screens, over it on a phone.
//! Esc or "Close thread" closes it (the URL loses `?thread=`) and puts
//! focus back on the message's "Reply in thread".

use crate::components::message::item::MessageItem;
use crate::components::message::pending::PendingItem;
use crate::components::reply_composer::ReplyComposer;
use crate::model::ChannelName;
use crate::state::{Chat, ThreadView};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

#[component]
pub fn ThreadPanel(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    let root = Memo::new(move |_| chat.log.with(|l| l.thread.as_ref().map(|v| v.root)));
    let navigate = use_navigate();
    let location = use_location();
    let close = move || {
        let open = root.get_untracked();
        navigate(&location.pathname.get_untracked(), Default::default());
        if let Some(root) = open {
            focus_reply_button(root);
        }
    };
    let on_close = close.clone();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            close();
        }
    };
    view! {
        {move || root.get().map(|root| {
            let on_close = on_close.clone();
            let channel = channel.clone();
            view! {
                <aside class="thread-panel" aria-label="Thread" on:keydown=on_keydown.clone()>
                    <header class="thread-head">
                        <h2>"Thread"</h2>
                        <button type="button" class="icon" aria-label="Close thread" title="Close thread"
                            on:click=move |_| on_close()>"✕"</button>
                    </header>
                    <ThreadLog root/>
                    <ReplyComposer channel root/>
                </aside>
            }
        })}
    }
}

/// The thread's messages, or why there are none.
#[component]
fn ThreadLog(root: u64) -> impl IntoView {
    let chat = Chat::expect();
    let view_of = move || {
        chat.log
            .with(|l| l.thread.clone().filter(|v| v.root == root))
    };
    let pending = move || {
        (chat.outbox).with(|o| {
            (o.iter())
                .filter(|item| item.reply_to.is_some_and(|to| to.root == root))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div class="log thread-log" role="log" aria-label="Replies" aria-live="polite" tabindex="0">
            {move || match view_of() {
                Some(ThreadView { missing: true, .. }) => view! {
                    <p class="log-empty">
                        "This thread is gone: its first message was deleted or left the channel's last 100 messages."
                    </p>
                }.into_any(),
                Some(ThreadView { loaded: false, .. }) | None => {
                    view! { <p class="loading">"Loading thread…"</p> }.into_any()
                }
                Some(ThreadView { first, .. }) => view! {
                    {first.map(|message| view! { <MessageItem message in_thread=true/> })}
                    <div class="thread-divider" role="separator"></div>
                }.into_any(),
            }}
            <For
                each=move || chat.log.with(|l| {
                    l.thread.as_ref().filter(|v| v.root == root).map(|v| v.replies.clone()).unwrap_or_default()
                })
                key=|m| m.clone()
                children=move |message| view! { <MessageItem message in_thread=true/> }.into_any()
            />
            <For
                each=pending
                key=|o| (o.client_id.clone(), o.failed.clone())
                children=move |outgoing| view! { <PendingItem outgoing/> }
            />
        </div>
    }
}

/// Puts focus back on message `root`'s "Reply in thread" in the channel.
fn focus_reply_button(root: u64) {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsCast;
        let selector = format!(r#".channel-main article[data-seq="{root}"] .reply-in-thread"#);
        let found = (leptos::prelude::document()
            .query_selector(&selector)
            .ok()
            .flatten())
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(button) = found {
            let _ = button.focus();
        }
    }
    #[cfg(not(feature = "browser"))]
    let _ = root;
}
