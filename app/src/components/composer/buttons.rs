//! The composer's buttons: attach files (through a hidden file picker; the
//! same file can be chosen twice) and send.

use crate::components::attachments::Upload;
use crate::state::Chat;
use leptos::html::Input;
use leptos::prelude::*;

#[component]
pub fn ComposerButtons(uploads: RwSignal<Vec<Upload>>) -> impl IntoView {
    let chat = Chat::expect();
    let picker = NodeRef::<Input>::new();
    #[cfg(not(feature = "browser"))]
    let _ = uploads;
    view! {
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
    }
}
