//! One message (`article`): author, time, body, attachments, reactions,
//! its thread's summary, "Reply in thread" and "Copy link", and for its
//! author the controls to edit or delete it. The message a link points
//! at (`Chat::focus`) is scrolled into view and highlighted.
//!
//! Invariant: the body reaches the DOM as text, or as the HTML the server
//! rendered from its Markdown and sanitized (`Message::html`); nothing a
//! user typed is ever inserted as HTML by the browser.

use super::body::MessageBodyView;
use super::copy_link::CopyLink;
use super::edit_form::EditForm;
use super::reaction_picker::ReactionPicker;
use super::reactions::Reactions;
use super::thread_link::{open_thread_action, ReplyButton, ThreadSummary};
use super::time::MessageTime;
use crate::components::attachments::AttachmentList;
use crate::model::Message;
use crate::state::Chat;
use leptos::prelude::*;

/// `in_thread`: shown in the thread panel (no way into a thread from there).
#[component]
pub fn MessageItem(message: Message, #[prop(optional)] in_thread: bool) -> impl IntoView {
    let chat = Chat::expect();
    let mine = {
        let author = message.author.clone();
        move || {
            chat.user
                .with(|u| u.as_ref().is_some_and(|u| u.display_name == author))
        }
    };
    let id = message.seq;
    let at = message.sent_at;
    let editing = move || chat.editing.get() == Some(id);
    let edited = message.edited_at.map(|at| {
        let iso = at.to_rfc3339();
        view! { <span class="edited" title=format!("Edited {iso}")>"(edited)"</span> }
    });
    let mentions_me = {
        let message = message.clone();
        move || chat.mentions_me(&message)
    };
    let badge = mentions_me.clone();
    let body = message.clone();
    let editor = message.clone();
    let (delete_channel, reactions_of) = (message.channel.clone(), message.clone());
    let node = NodeRef::<leptos::html::Article>::new();
    let focused = move || chat.focus.get() == Some(id);
    Effect::new(move |_| {
        if let (true, Some(el)) = (focused(), node.get()) {
            el.scroll_into_view();
        }
    });
    let reply_button =
        (!in_thread && message.reply_to.is_none()).then(|| view! { <ReplyButton root=id/> });
    let summary = (!in_thread)
        .then_some(message.replies)
        .flatten()
        .map(|replies| view! { <ThreadSummary root=id replies/> });
    let in_a_thread = (!in_thread)
        .then_some(message.reply_to)
        .flatten()
        .map(|to| {
            let open = open_thread_action(to.root);
            view! { <button type="button" class="link in-thread" on:click=move |_| open()>"in a thread"</button> }
        });
    view! {
        <article
            class="message"
            class:mine=mine.clone()
            class:mentioned=mentions_me
            class:focused=focused
            data-seq=id
            node_ref=node
        >
            <header class="message-head">
                <span class="author">{message.author.to_string()}</span>
                <MessageTime at/>
                {edited}
                {in_a_thread}
                <Show when=badge>
                    <span class="mention-badge">"Mentions you"</span>
                </Show>
            </header>
            <Show when=editing fallback=move || view! { <MessageBodyView message=body.clone()/> }>
                <EditForm message=editor.clone()/>
            </Show>
            <AttachmentList attachments=message.attachments.clone()/>
            <Reactions message=reactions_of/>
            {summary}
            <div class="message-actions">
                <ReactionPicker message=message.clone()/>
                {reply_button}
                <CopyLink message=message.clone()/>
                <Show when=mine.clone()>
                    <button
                        type="button"
                        class="icon"
                        aria-label="Edit message"
                        title="Edit message"
                        on:click=move |_| chat.editing.set(Some(id))
                    >"✏️"</button>
                    <button
                        type="button"
                        class="icon"
                        aria-label="Delete message"
                        title="Delete message"
                        on:click={
                            let channel = delete_channel.clone();
                            move |_| {
                                chat.delete(channel.clone(), id);
                            }
                        }
                    >"🗑️"</button>
                </Show>
            </div>
        </article>
    }
}
