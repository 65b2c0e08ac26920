//! Creating a channel: a field labelled "Channel name" and a "Create" button.
//! A clash (ignoring case) or a broken rule shows the server's reason.

use crate::api;
use crate::components::name_prompt::capitalize;
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
            error.set(Some(capitalize(&e.to_string())));
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
                Err(e) => error.set(Some(capitalize(&e.message))),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="channel-form" on:submit=submit>
            <label for="channel-name">"Channel name"</label>
            <div class="row">
                <input
                    id="channel-name"
                    name="name"
                    autocomplete="off"
                    placeholder="e.g. general"
                    aria-invalid=move || error.with(Option::is_some).to_string()
                    aria-describedby="channel-name-error"
                    prop:value=move || name.get()
                    on:input=move |ev| {
                        name.set(event_target_value(&ev));
                        error.set(None);
                    }
                    disabled=move || !chat.hydrated.get()
                />
                <button type="submit" disabled=move || !chat.hydrated.get() || busy.get()>
                    "Create"
                </button>
            </div>
            <div id="channel-name-error">
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
        </form>
    }
}
