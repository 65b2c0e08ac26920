//! Editing a message in place.

use crate::model::{Message, MessageBody};
use crate::state::Chat;
use leptos::html::Textarea;
use leptos::prelude::*;

/// Editing in place: Enter saves, Shift+Enter adds a line, Esc cancels.
#[component]
pub fn EditForm(message: Message) -> impl IntoView {
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
