//! One message (`article`): author, time, body, attachments, reactions,
//! and for its author the controls to edit or delete it.
//!
//! Invariant: the body reaches the DOM as text, or as the HTML the server
//! rendered from its Markdown and sanitized (`Message::html`); nothing a
//! user typed is ever inserted as HTML by the browser.

use super::body::MessageBodyView;
use super::edit_form::EditForm;
use super::reaction_picker::ReactionPicker;
use super::reactions::Reactions;
use super::time::MessageTime;
use crate::components::attachments::AttachmentList;
use crate::model::Message;
use crate::state::Chat;
use leptos::prelude::*;

#[component]
pub fn MessageItem(message: Message) -> impl IntoView {
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
    view! {
        <article class="message" class:mine=mine.clone() class:mentioned=mentions_me>
            <header class="message-head">
                <span class="author">{message.author.to_string()}</span>
                <MessageTime at/>
                {edited}
                <Show when=badge>
                    <span class="mention-badge">"Mentions you"</span>
                </Show>
            </header>
            <Show when=editing fallback=move || view! { <MessageBodyView message=body.clone()/> }>
                <EditForm message=editor.clone()/>
            </Show>
            <AttachmentList attachments=message.attachments.clone()/>
            <Reactions message=reactions_of/>
            <div class="message-actions">
                <ReactionPicker message=message.clone()/>
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
