//! A message's ways into its thread: "Reply in thread" among its actions,
//! and under a message with replies, how many and when the last came.
//! Both open the thread by putting it in the URL (`?thread=<seq>`), so the
//! browser's history and a reload keep it.

use super::time::MessageTime;
use crate::model::Replies;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

/// Opens the thread of message `root` on the current page.
pub fn open_thread_action(root: u64) -> impl Fn() + Clone + 'static {
    let navigate = use_navigate();
    let location = use_location();
    move || {
        let path = location.pathname.get_untracked();
        navigate(&format!("{path}?thread={root}"), Default::default());
    }
}

/// The "Reply in thread" action of message `root`.
#[component]
pub fn ReplyButton(root: u64) -> impl IntoView {
    let open = open_thread_action(root);
    view! {
        <button
            type="button"
            class="icon reply-in-thread"
            aria-label="Reply in thread"
            title="Reply in thread"
            on:click=move |_| open()
        >"💬"</button>
    }
}

/// "3 replies · last 14:05" under a message with replies.
#[component]
pub fn ThreadSummary(root: u64, replies: Replies) -> impl IntoView {
    let open = open_thread_action(root);
    let count = match replies.count {
        1 => "1 reply".to_owned(),
        n => format!("{n} replies"),
    };
    view! {
        <p class="thread-summary">
            <button type="button" class="link" on:click=move |_| open()>{count}</button>
            {replies.last_at.map(|at| view! { <span class="last-reply">"Last reply "<MessageTime at/></span> })}
        </p>
    }
}
