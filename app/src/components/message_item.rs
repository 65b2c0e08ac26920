//! One message (`article`): author, time (`<time datetime>` in UTC, shown in
//! the viewer's local time once hydrated), body, reactions, and for the
//! author the controls to edit or delete it.
//!
//! Invariant: the body reaches the DOM as text, or as the HTML the server
//! rendered from its Markdown and sanitized (`Message::html`); nothing a
//! user typed is ever inserted as HTML by the browser.

use crate::components::attachments::AttachmentList;
use crate::model::{Emoji, Message, MessageBody, Reaction, Timestamp, REACTIONS};
use crate::state::{Chat, Outgoing};
use leptos::html::Textarea;
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

/// The body: the server's sanitized HTML when the Markdown had markup,
/// else plain text.
#[component]
fn MessageBodyView(message: Message) -> impl IntoView {
    if message.html.is_empty() {
        view! { <p class="body">{message.body.to_string()}</p> }.into_any()
    } else {
        view! { <div class="body rich" inner_html=message.html></div> }.into_any()
    }
}

/// Editing in place: Enter saves, Shift+Enter adds a line, Esc cancels.
#[component]
fn EditForm(message: Message) -> impl IntoView {
    let chat = Chat::expect();
    let draft = RwSignal::new(message.body.to_string());
    let error = RwSignal::new(None::<String>);
    let field = NodeRef::<Textarea>::new();
    Effect::new(move |_| {
        if let Some(el) = field.get() {
            let _ = el.focus();
            let end = el.value().len() as u32;
            let _ = el.set_selection_range(end, end);
        }
    });
    let (channel, id, original) = (message.channel.clone(), message.seq, message.body.clone());
    let save = move || match MessageBody::parse(&draft.get_untracked()) {
        Ok(body) if body == original => chat.editing.set(None),
        Ok(body) => {
            if chat.edit(channel.clone(), id, body) {
                chat.editing.set(None);
            }
        }
        Err(e) => error.set(Some(crate::components::field::sentence(&e.to_string()))),
    };
    let save_on_submit = save.clone();
    let field_id = format!("edit-{id}");
    let error_id = format!("edit-{id}-error");
    view! {
        <form
            class="edit-form"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                save_on_submit();
            }
        >
            <label for=field_id.clone() class="visually-hidden">"New text"</label>
            <textarea
                id=field_id
                node_ref=field
                rows="2"
                aria-describedby=error_id.clone()
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    error.set(None);
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" {
                        ev.prevent_default();
                        chat.editing.set(None);
                    } else if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        save();
                    }
                }
            ></textarea>
            <div class="edit-actions">
                <button type="submit">"Save"</button>
                <button type="button" on:click=move |_| chat.editing.set(None)>"Cancel"</button>
                <span class="hint">"Enter to save, Esc to cancel"</span>
            </div>
            <p id=error_id class="error" role="alert">{move || error.get()}</p>
        </form>
    }
}

/// The reactions on a message: one button per emoji, named with the emoji,
/// the count and who reacted (also shown on hover and focus). Pressing
/// one's own removes it; pressing another adds one's own.
#[component]
fn Reactions(message: Message) -> impl IntoView {
    let chat = Chat::expect();
    let me = move || {
        chat.user
            .with(|u| u.as_ref().map(|u| u.display_name.clone()))
    };
    let (channel, id) = (message.channel.clone(), message.seq);
    let buttons = message
        .reactions
        .into_iter()
        .map(|Reaction { emoji, users }| {
            let names = users
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let count = users.len();
            let label = format!("{emoji} {count}: {names}");
            let mine = move || me().is_some_and(|me| users.contains(&me));
            let mine_now = mine.clone();
            let channel = channel.clone();
            let text = format!("{emoji} {count}");
            view! {
                <button
                    type="button"
                    class="reaction"
                    class:mine=mine.clone()
                    aria-pressed=move || mine().to_string()
                    aria-label=label
                    on:click=move |_| {
                        chat.react(channel.clone(), id, emoji.clone(), !mine_now());
                    }
                >
                    {text}
                    <span class="who" aria-hidden="true">{names}</span>
                </button>
            }
        })
        .collect_view();
    view! { <div class="reactions">{buttons}</div> }
}

/// "Add reaction": opens the palette of `REACTIONS`.
#[component]
fn ReactionPicker(message: Message) -> impl IntoView {
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

/// A message of this user's that the server has not stored yet, or refused.
#[component]
pub fn PendingItem(outgoing: Outgoing) -> impl IntoView {
    let chat = Chat::expect();
    let author = chat.user.with_untracked(|u| {
        u.as_ref()
            .map(|u| u.display_name.to_string())
            .unwrap_or_default()
    });
    let failed = outgoing.failed.clone();
    let is_failed = failed.is_some();
    let retry_id = outgoing.client_id.clone();
    let discard_id = outgoing.client_id.clone();
    view! {
        <article class="message mine pending" class:failed=is_failed aria-busy=(!is_failed).to_string()>
            <header class="message-head">
                <span class="author">{author}</span>
                <span class="pending-note">
                    {if is_failed { "Not sent" } else { "Sending…" }}
                </span>
            </header>
            <p class="body">{outgoing.body.to_string()}</p>
            {failed.map(|reason| view! {
                <p class="error" role="alert">{reason}</p>
                <div class="actions">
                    <button type="button" on:click=move |_| chat.retry(&retry_id)>"Retry"</button>
                    <button type="button" on:click=move |_| chat.discard(&discard_id)>"Discard"</button>
                </div>
            })}
        </article>
    }
}

/// `<time datetime="…Z">`: UTC text on the server, the viewer's local time
/// once the browser has taken over (the server cannot know the time zone).
#[component]
pub fn MessageTime(at: Timestamp) -> impl IntoView {
    let chat = Chat::expect();
    let iso = at.to_rfc3339();
    let utc = at.utc_time_of_day();
    let full_iso = iso.clone();
    let text = move || {
        if chat.hydrated.get() {
            local_time(&full_iso).unwrap_or_else(|| utc.clone())
        } else {
            utc.clone()
        }
    };
    let title = {
        let iso = iso.clone();
        move || {
            if chat.hydrated.get() {
                local_date_time(&iso).unwrap_or_else(|| iso.clone())
            } else {
                iso.clone()
            }
        }
    };
    view! { <time datetime=iso title=title>{text}</time> }
}

/// "14:05" for today, "Nov 24, 14:05" for other days, in the viewer's zone.
fn local_time(iso: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        let today = js_sys::Date::new_0();
        let same_day = date.to_date_string() == today.to_date_string();
        let options = js_sys::Object::new();
        let set = |k: &str, v: &str| {
            let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
        };
        set("hour", "2-digit");
        set("minute", "2-digit");
        if !same_day {
            set("month", "short");
            set("day", "numeric");
        }
        Some(String::from(date.to_locale_string("default", &options)))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = iso;
        None
    }
}

/// The full local date and time, for the tooltip.
fn local_date_time(iso: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        Some(String::from(
            date.to_locale_string("default", &JsValue::UNDEFINED),
        ))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = iso;
        None
    }
}
