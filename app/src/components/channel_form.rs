//! Creating a channel: a field labelled "Channel name" and a "Create" button.
//! A clash (ignoring case) or a broken rule shows the server's reason.

use crate::api;
use crate::components::field::{sentence, FieldError, TextField};
use crate::model::ChannelName;
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn ChannelForm() -> impl IntoView {
    let chat = Chat::expect();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let raw = name.get_untracked();
        if let Err(e) = ChannelName::parse(&raw) {
            error.set(Some(sentence(&e.to_string())));
            return;
        }
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match api::create_channel(raw).await {
                Ok(channel) => {
                    error.set(None);
                    name.set(String::new());
                    let path = channel.name.path();
                    chat.learn_channel(channel);
                    navigate(&path, Default::default());
                }
                Err(e) => error.set(Some(sentence(&e.message))),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="channel-form" on:submit=submit>
            <label for="channel-name">"Channel name"</label>
            <div class="row">
                <TextField
                    id="channel-name"
                    name="name"
                    value=name
                    error
                    autocomplete="off"
                    placeholder="e.g. general"
                />
                <button type="submit" disabled=move || !chat.hydrated.get() || busy.get()>
                    "Create"
                </button>
            </div>
            <FieldError for_id="channel-name" error/>
        </form>
    }
}
