//! The composer: a field labelled "Message". Enter sends, Shift+Enter adds a
//! line, Up in an empty field edits your last message, and `@` offers the
//! people to mention (a listbox: arrows choose, Enter or Tab completes,
//! Esc closes). Empty messages are not sent; a refused one keeps its draft and says
//! why.

use crate::components::attachments::{Upload, UploadState, UploadTray};
use crate::components::field::{sentence, FieldError};
use crate::model::{
    lowercase, Attachment, ChannelName, DisplayName, InputError, MessageBody,
    DISPLAY_NAME_MAX_CHARS, MESSAGE_BODY_MAX_CHARS,
};
use crate::state::Chat;
use leptos::html::{Input, Textarea};
use leptos::prelude::*;

/// The least time between two `typing` notices from this composer.
#[cfg(feature = "browser")]
const TYPING_EVERY_MS: f64 = 3_000.0;

/// At most this many people are offered at once.
const SUGGESTIONS_MAX: usize = 8;

/// The `@query` being typed just before the cursor: where its `@` starts
/// (a byte index into `before`) and the query, or `None`.
fn mention_query(before: &str) -> Option<(usize, &str)> {
    let at = before.rfind('@')?;
    let query = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    let plausible = query.chars().count() <= DISPLAY_NAME_MAX_CHARS
        && !query.contains('\n')
        && !query.starts_with(' ');
    (starts_word && plausible).then_some((at, query))
}

/// The people whose names start with `query`, ignoring case.
fn suggestions(users: &[DisplayName], query: &str) -> Vec<DisplayName> {
    let query = lowercase(query);
    users
        .iter()
        .filter(|u| lowercase(u.as_str()).starts_with(&query))
        .take(SUGGESTIONS_MAX)
        .cloned()
        .collect()
}

/// Past this many characters the composer shows a counter.
const COUNTER_FROM: usize = MESSAGE_BODY_MAX_CHARS - 500;

#[component]
pub fn Composer(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    // The draft this channel had when the user left it, if any.
    let draft = RwSignal::new(
        chat.drafts
            .with_untracked(|d| d.get(&channel).cloned())
            .unwrap_or_default(),
    );
    let remember_draft = {
        let channel = channel.clone();
        move |text: &str| {
            chat.drafts.update(|d| {
                if text.is_empty() {
                    d.remove(&channel);
                } else {
                    d.insert(channel.clone(), text.to_owned());
                }
            })
        }
    };
    let remember_on_input = remember_draft.clone();
    // At most one `typing` notice every few seconds.
    // (Only the browser sends them.)
    #[cfg_attr(not(feature = "browser"), allow(unused_variables))]
    let (typing_sent, typing_channel) = (StoredValue::new(f64::NEG_INFINITY), channel.clone());
    let error = RwSignal::new(None::<String>);
    let placeholder = format!("Message #{channel}");
    let field = NodeRef::<Textarea>::new();
    // Completion: the offered names, the highlighted one, and the `@`'s
    // position (UTF-16, as the textarea counts) with the cursor's.
    let offered = RwSignal::new(Vec::<DisplayName>::new());
    let active = RwSignal::new(0usize);
    let span = RwSignal::new(None::<(usize, usize)>);
    // `try_`: a blur also fires while the composer is being removed (when
    // the user switches channels), after its signals are gone.
    let close = move || {
        offered.try_set(Vec::new());
        span.try_set(None);
    };
    let update_completion = move || {
        let Some(el) = field.get_untracked() else {
            return;
        };
        let value = el.value();
        let units: Vec<u16> = value.encode_utf16().collect();
        let cursor = el
            .selection_start()
            .ok()
            .flatten()
            .map_or(units.len(), |c| (c as usize).min(units.len()));
        let before = String::from_utf16_lossy(&units[..cursor]);
        match mention_query(&before) {
            Some((at, query)) => {
                let names = chat.users.with_untracked(|users| suggestions(users, query));
                if names.is_empty() {
                    close();
                } else {
                    let at16 = before[..at].encode_utf16().count();
                    span.set(Some((at16, cursor)));
                    if offered.get_untracked() != names {
                        active.set(0);
                    }
                    offered.set(names);
                }
            }
            None => close(),
        }
    };
    let complete = move |name: DisplayName| {
        let (Some(el), Some((at, cursor))) = (field.get_untracked(), span.get_untracked()) else {
            return;
        };
        let units: Vec<u16> = el.value().encode_utf16().collect();
        let (at, cursor) = (at.min(units.len()), cursor.min(units.len()));
        let inserted = format!("@{name} ");
        let text = format!(
            "{}{inserted}{}",
            String::from_utf16_lossy(&units[..at]),
            String::from_utf16_lossy(&units[cursor..])
        );
        el.set_value(&text);
        draft.set(text);
        let end = (at + inserted.encode_utf16().count()) as u32;
        let _ = el.set_selection_range(end, end);
        close();
    };

    let uploads = RwSignal::new(Vec::<Upload>::new());
    let picker = NodeRef::<Input>::new();
    let dropping = RwSignal::new(false);
    let send = move || {
        if uploads.with_untracked(|u| u.iter().any(|f| matches!(f.state, UploadState::Sending(_))))
        {
            error.set(Some("Wait until your files have uploaded.".into()));
            return;
        }
        let files: Vec<Attachment> = uploads.with_untracked(|u| {
            u.iter()
                .filter_map(|f| match &f.state {
                    UploadState::Ready(file) => Some(file.clone()),
                    _ => None,
                })
                .collect()
        });
        let typed = draft.get_untracked();
        // A message of only files says which files.
        let text = if typed.trim().is_empty() && !files.is_empty() {
            files
                .iter()
                .map(|f| format!("📎 {}", f.name))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            typed
        };
        match MessageBody::parse(&text) {
            Ok(body) => {
                chat.send(channel.clone(), body, files);
                draft.set(String::new());
                remember_draft("");
                uploads.update(|u| u.retain(|f| !matches!(f.state, UploadState::Ready(_))));
                error.set(None);
            }
            // Nothing to send: not an error worth a message.
            Err(InputError::Empty { .. }) => {}
            Err(e) => error.set(Some(sentence(&e.to_string()))),
        }
    };
    let send_on_submit = send.clone();

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let open = offered.with_untracked(|o| o.len());
        if open > 0 {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    active.update(|a| *a = (*a + 1) % open);
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    active.update(|a| *a = (*a + open - 1) % open);
                    return;
                }
                "Enter" | "Tab" if !ev.shift_key() && !ev.is_composing() => {
                    ev.prevent_default();
                    let chosen = offered.with_untracked(|o| o.get(active.get_untracked()).cloned());
                    if let Some(name) = chosen {
                        complete(name);
                    }
                    return;
                }
                "Escape" => {
                    ev.prevent_default();
                    close();
                    return;
                }
                _ => {}
            }
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        } else if ev.key() == "ArrowUp" && draft.with_untracked(|d| d.trim().is_empty()) {
            // Up in an empty composer edits your last message, as in Slack.
            let last = chat.user.with_untracked(|u| {
                let me = u.as_ref()?;
                chat.log
                    .with_untracked(|log| log.last_by(&me.display_name).map(|m| m.seq))
            });
            if let Some(id) = last {
                ev.prevent_default();
                chat.editing.set(Some(id));
            }
        }
    };
    let length = move || draft.with(|d| d.trim_end().chars().count());
    // Names typed before the list arrived are completed once it does.
    Effect::new(move |_| {
        chat.users.with(|_| ());
        if span.get_untracked().is_some() || draft.with_untracked(|d| d.contains('@')) {
            update_completion();
        }
    });

    view! {
        <form
            class="composer"
            class:dropping=move || dropping.get()
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send_on_submit();
            }
            on:dragover=move |ev: leptos::ev::DragEvent| {
                // Accepting the drag is what makes a drop possible.
                ev.prevent_default();
                dropping.set(true);
            }
            on:dragleave=move |_| dropping.set(false)
            on:drop=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                dropping.set(false);
                #[cfg(feature = "browser")]
                if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
                    crate::components::attachments::upload_all(files, uploads);
                }
            }
        >
            <UploadTray uploads/>
            <label for="message-input" class="visually-hidden">"Message"</label>
            <textarea
                id="message-input"
                name="body"
                rows="1"
                node_ref=field
                placeholder=placeholder
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby="message-input-error"
                aria-autocomplete="list"
                aria-controls=move || offered.with(|o| !o.is_empty()).then_some("mention-list")
                aria-activedescendant=move || {
                    offered
                        .with(|o| !o.is_empty())
                        .then(|| format!("mention-{}", active.get()))
                }
                prop:value=move || draft.get()
                on:input=move |ev| {
                    let typed = event_target_value(&ev);
                    remember_on_input(&typed);
                    #[cfg(feature = "browser")]
                    if !typed.trim().is_empty() {
                        let now = js_sys::Date::now();
                        if now - typing_sent.get_value() > TYPING_EVERY_MS {
                            typing_sent.set_value(now);
                            crate::browser::outbound::typing(typing_channel.clone());
                        }
                    }
                    let wants_names = typed.contains('@');
                    draft.set(typed);
                    error.set(None);
                    if wants_names && chat.users.with_untracked(Vec::is_empty) {
                        chat.refresh_users();
                    }
                    update_completion();
                }
                on:focus=move |_| chat.refresh_users()
                on:blur=move |_| close()
                on:keydown=on_keydown
                disabled=move || !chat.hydrated.get()
            ></textarea>
            <Show when=move || offered.with(|o| !o.is_empty())>
                <ul class="mentions-list" id="mention-list" role="listbox" aria-label="People to mention">
                    {move || {
                        offered
                            .get()
                            .into_iter()
                            .enumerate()
                            .map(|(i, name)| {
                                let chosen = name.clone();
                                view! {
                                    <li
                                        id=format!("mention-{i}")
                                        role="option"
                                        aria-selected=move || (active.get() == i).to_string()
                                        on:mousedown=move |ev: leptos::ev::MouseEvent| {
                                            // Keep the focus in the textarea.
                                            ev.prevent_default();
                                            complete(chosen.clone());
                                        }
                                    >
                                        {format!("@{name}")}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
            <div class="composer-buttons">
                <input
                    type="file"
                    multiple
                    class="visually-hidden"
                    tabindex="-1"
                    aria-hidden="true"
                    node_ref=picker
                    on:change=move |_| {
                        #[cfg(feature = "browser")]
                        if let Some(input) = picker.get_untracked() {
                            if let Some(files) = input.files() {
                                crate::components::attachments::upload_all(files, uploads);
                            }
                            // The same file can be chosen again.
                            input.set_value("");
                        }
                    }
                />
                <button
                    type="button"
                    class="attach"
                    aria-label="Attach file"
                    title="Attach file (or drop files here)"
                    disabled=move || !chat.hydrated.get()
                    on:click=move |_| {
                        if let Some(input) = picker.get_untracked() {
                            input.click();
                        }
                    }
                >"📎"</button>
                <button type="submit" disabled=move || !chat.hydrated.get()>"Send"</button>
            </div>
            <Show when=move || { length() > COUNTER_FROM }>
                <span class="counter" class:over=move || { length() > MESSAGE_BODY_MAX_CHARS }>
                    {move || format!("{} / {}", length(), MESSAGE_BODY_MAX_CHARS)}
                </span>
            </Show>
            <FieldError for_id="message-input" error/>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_query_starts_a_word_and_stays_on_one_line() {
        assert_eq!(mention_query("hi @al"), Some((3, "al")));
        assert_eq!(mention_query("@"), Some((0, "")));
        assert_eq!(mention_query("@Bob Sm"), Some((0, "Bob Sm")));
        assert_eq!(mention_query("mail bob@host"), None);
        assert_eq!(mention_query("@al\nx"), None);
        assert_eq!(mention_query("no at sign"), None);
    }

    #[test]
    fn suggestions_match_the_start_of_names_ignoring_case() {
        let users: Vec<DisplayName> = ["alice", "Alfred", "bob"]
            .iter()
            .map(|n| DisplayName::parse(n).unwrap())
            .collect();
        let names = |q| {
            suggestions(&users, q)
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("AL"), ["alice", "Alfred"]);
        assert_eq!(names(""), ["alice", "Alfred", "bob"]);
        assert!(names("z").is_empty());
    }
}
