//! `@` completion in the composer: the `@query` before the cursor offers
//! the people whose names start with it (a listbox: arrows choose, Enter
//! or Tab completes, Esc closes).

use crate::model::{lowercase, DisplayName, DISPLAY_NAME_MAX_CHARS};
use crate::state::Chat;
use leptos::html::Textarea;
use leptos::prelude::*;

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

/// The completion's state: the offered names, the highlighted one, and
/// the `@`'s position (UTF-16, as the textarea counts) with the cursor's.
#[derive(Clone, Copy)]
pub struct Completion {
    pub field: NodeRef<Textarea>,
    pub offered: RwSignal<Vec<DisplayName>>,
    pub active: RwSignal<usize>,
    span: RwSignal<Option<(usize, usize)>>,
    draft: RwSignal<String>,
}

impl Completion {
    pub fn new(field: NodeRef<Textarea>, draft: RwSignal<String>) -> Self {
        Self {
            field,
            offered: RwSignal::new(Vec::new()),
            active: RwSignal::new(0),
            span: RwSignal::new(None),
            draft,
        }
    }

    pub fn is_open(&self) -> bool {
        self.offered.with(|o| !o.is_empty())
    }

    /// `try_`: a blur also fires while the composer is being removed (when
    /// the user switches channels), after its signals are gone.
    pub fn close(&self) {
        self.offered.try_set(Vec::new());
        self.span.try_set(None);
    }

    /// Offers names for the `@query` before the cursor, if there is one.
    pub fn update(&self, chat: Chat) {
        let Some(el) = self.field.get_untracked() else {
            return;
        };
        let units: Vec<u16> = el.value().encode_utf16().collect();
        let cursor = (el.selection_start().ok().flatten())
            .map_or(units.len(), |c| (c as usize).min(units.len()));
        let before = String::from_utf16_lossy(&units[..cursor]);
        let Some((at, query)) = mention_query(&before) else {
            return self.close();
        };
        let names = chat.users.with_untracked(|users| suggestions(users, query));
        if names.is_empty() {
            return self.close();
        }
        let at16 = before[..at].encode_utf16().count();
        self.span.set(Some((at16, cursor)));
        if self.offered.get_untracked() != names {
            self.active.set(0);
        }
        self.offered.set(names);
    }

    /// Names typed before the list of people arrived are completed once
    /// it does.
    pub fn follow_users(self, chat: Chat) {
        Effect::new(move |_| {
            chat.users.with(|_| ());
            let pending = self.span.get_untracked().is_some()
                || self.draft.with_untracked(|d| d.contains('@'));
            if pending {
                self.update(chat);
            }
        });
    }

    /// Replaces the `@query` with `@name `.
    pub fn complete(&self, name: DisplayName) {
        let (Some(el), Some((at, cursor))) =
            (self.field.get_untracked(), self.span.get_untracked())
        else {
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
        self.draft.set(text);
        let end = (at + inserted.encode_utf16().count()) as u32;
        let _ = el.set_selection_range(end, end);
        self.close();
    }

    /// Handles a key while names are offered; whether it did.
    pub fn on_key(&self, ev: &leptos::ev::KeyboardEvent) -> bool {
        let open = self.offered.with_untracked(|o| o.len());
        if open == 0 {
            return false;
        }
        match ev.key().as_str() {
            "ArrowDown" => self.active.update(|a| *a = (*a + 1) % open),
            "ArrowUp" => self.active.update(|a| *a = (*a + open - 1) % open),
            "Enter" | "Tab" if !ev.shift_key() && !ev.is_composing() => {
                let chosen =
                    (self.offered).with_untracked(|o| o.get(self.active.get_untracked()).cloned());
                if let Some(name) = chosen {
                    self.complete(name);
                }
            }
            "Escape" => self.close(),
            _ => return false,
        }
        ev.prevent_default();
        true
    }
}

/// The listbox of people to mention, under the field.
#[component]
pub fn MentionList(completion: Completion) -> impl IntoView {
    let Completion {
        offered, active, ..
    } = completion;
    view! {
        <Show when=move || completion.is_open()>
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
                                        completion.complete(chosen.clone());
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
