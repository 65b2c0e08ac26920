//! The message log (`role="log"` named "Messages"): the open channel's
//! messages oldest first, then this user's unsent ones. It follows new
//! messages while the reader is at the bottom and stays put when they have
//! scrolled up, offering a jump back instead.

use crate::components::message::item::MessageItem;
use crate::components::message::pending::PendingItem;
use crate::model::ChannelName;
use crate::state::{Chat, Outgoing};
use leptos::html::Div;
use leptos::prelude::*;

/// How close to the bottom (in pixels) still counts as "at the bottom".
const STICK_THRESHOLD_PX: i32 = 48;

#[component]
pub fn MessageLog(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    let log_el = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    let unseen = RwSignal::new(false);

    let scroll_to_bottom = move || {
        if let Some(el) = log_el.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
        unseen.set(false);
    };

    // After every change to the log: follow it if the reader was at the
    // bottom, and not reading a message a link pointed at.
    Effect::new(move |_| {
        chat.log.with(|log| log.messages.len());
        chat.outbox.with(Vec::len);
        if chat.focus.get_untracked().is_some() {
            at_bottom.set(false);
        }
        if at_bottom.get_untracked() {
            scroll_to_bottom();
            if crate::browser::tab_visible() {
                chat.mark_read();
            }
        } else {
            unseen.set(true);
        }
    });

    let on_scroll = move |_| {
        let Some(el) = log_el.get_untracked() else {
            return;
        };
        let is_bottom =
            el.scroll_height() - el.scroll_top() - el.client_height() <= STICK_THRESHOLD_PX;
        at_bottom.set(is_bottom);
        if is_bottom {
            unseen.set(false);
            chat.mark_read();
        }
    };

    // A plain closure over the global outbox, not a Memo owned by this
    // view: opening another channel changes the log while this view is
    // still mounted, and its closures may run once more as it is torn down;
    // they must not read anything this view owned.
    let pending = move || pending_in(chat, &channel);
    let pending_for_list = pending.clone();

    view! {
        <div class="log-wrap">
            <div
                class="log"
                role="log"
                aria-label="Messages"
                aria-live="polite"
                tabindex="0"
                node_ref=log_el
                on:scroll=on_scroll
            >
                <Show when=move || chat.log.with(|l| l.messages.is_empty()) && pending().is_empty()>
                    <p class="log-empty">"No messages yet. Say hello!"</p>
                </Show>
                <For
                    each=move || chat.log.with(|l| l.messages.clone())
                    // The whole message: an edit or a reaction redraws it.
                    key=|m| m.clone()
                    children=move |message| {
                        let seq = message.seq;
                        let divider = move || {
                            (first_new(chat) == Some(seq)).then(|| view! {
                                <div class="new-divider" role="separator" aria-label="New messages">
                                    <span>"New messages"</span>
                                </div>
                            })
                        };
                        // Erased: the full type of a message's view nests too
                        // deeply for the compiler's default limits.
                        view! { {divider} <MessageItem message/> }.into_any()
                    }
                />
                <For
                    each=pending_for_list
                    key=|o| (o.client_id.clone(), o.failed.clone())
                    children=move |outgoing| view! { <PendingItem outgoing/> }
                />
            </div>
            <Show when=move || unseen.get()>
                <button type="button" class="jump" on:click=move |_| scroll_to_bottom()>
                    "New messages below ↓"
                </button>
            </Show>
        </div>
    }
}

/// This user's unsent messages in `channel` (replies show in their thread).
fn pending_in(chat: Chat, channel: &ChannelName) -> Vec<Outgoing> {
    (chat.outbox).with(|o| {
        (o.iter())
            .filter(|item| &item.channel == channel && item.reply_to.is_none())
            .cloned()
            .collect()
    })
}

/// The first message from someone else after where the user had read when
/// they opened the channel: "New messages" goes above it.
fn first_new(chat: Chat) -> Option<u64> {
    let marker = chat.read_marker.get()?;
    let me = (chat.user).with(|u| u.as_ref().map(|u| u.display_name.clone()));
    chat.log.with(|l| {
        (l.messages.iter())
            .find(|m| m.seq > marker && Some(&m.author) != me.as_ref())
            .map(|m| m.seq)
    })
}
