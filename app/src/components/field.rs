//! Form pieces shared by every form: a text field bound to a signal, and
//! the alert under it that says what is wrong.
//!
//! Invariant: a field is disabled until the app has hydrated (typing into
//! a server-rendered field must never be lost), and typing clears its error.

use crate::state::Chat;
use leptos::prelude::*;

/// A text input bound to `value`, described by its `FieldError`.
#[component]
pub fn TextField(
    id: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<String>>,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] autofocus: bool,
) -> impl IntoView {
    let chat = Chat::expect();
    view! {
        <input
            id=id
            name=name
            autocomplete=autocomplete
            placeholder=placeholder
            autofocus=autofocus
            aria-invalid=move || error.with(Option::is_some).to_string()
            aria-describedby=format!("{id}-error")
            prop:value=move || value.get()
            on:input=move |ev| {
                value.set(event_target_value(&ev));
                error.set(None);
            }
            disabled=move || !chat.hydrated.get()
        />
    }
}

/// The `role="alert"` message of field `for_id`, present only when there is one.
#[component]
pub fn FieldError(for_id: &'static str, error: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <div id=format!("{for_id}-error") class="field-error">
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </div>
    }
}

/// "display name must not be empty" -> "Display name must not be empty".
/// The texts are this crate's own English messages, so an ASCII capital is
/// enough; `char::to_uppercase` brought Unicode's case table into the WASM
/// for this one letter.
pub fn sentence(text: &str) -> String {
    let mut text = text.to_owned();
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_start_with_a_capital() {
        assert_eq!(
            sentence("display name must not be empty"),
            "Display name must not be empty"
        );
        assert_eq!(sentence("\"bob\" is taken"), "\"bob\" is taken");
        assert_eq!(sentence(""), "");
    }
}
