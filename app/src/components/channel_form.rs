//! Creating a channel: a field labelled "Channel name" and a "Create" button.
//! A clash (ignoring case) or a broken rule shows the server's reason.
//!
//! A create whose answer was lost (the server was unreachable or answered
//! `unavailable`) may still have made the channel. Its retry then hears
//! `channel_exists`; if the channel of that name is this user's, it is the
//! one the lost attempt made, and the form opens it instead of refusing.

use crate::api;
use crate::components::field::{sentence, FieldError, TextField};
use crate::error::ApiErrorCode;
use crate::model::{Channel, ChannelName, DisplayName};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// The channel named `name` if `me` made it (asked of the server: the
/// `channel_created` notice may not have arrived yet).
async fn made_by(me: &DisplayName, name: &ChannelName) -> Option<Channel> {
    let channels = api::list_channels().await.ok()?;
    channels
        .into_iter()
        .find(|c| &c.name == name && &c.created_by == me)
}

#[component]
pub fn ChannelForm() -> impl IntoView {
    let chat = Chat::expect();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // The name of the last create whose answer never came.
    let unanswered = RwSignal::new(None::<ChannelName>);
    let navigate = use_navigate();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let raw = name.get_untracked();
        let wanted = match ChannelName::parse(&raw) {
            Ok(wanted) => wanted,
            Err(e) => {
                error.set(Some(sentence(&e.to_string())));
                return;
            }
        };
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let created = match api::create_channel(raw).await {
                Ok(channel) => Ok(channel),
                Err(e)
                    if e.code == ApiErrorCode::ChannelExists
                        && unanswered.get_untracked().as_ref() == Some(&wanted) =>
                {
                    let me = chat.user.get_untracked().map(|u| u.display_name);
                    match me {
                        Some(me) => made_by(&me, &wanted).await.ok_or(e),
                        None => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match created {
                Ok(channel) => {
                    error.set(None);
                    unanswered.set(None);
                    name.set(String::new());
                    let path = channel.name.path();
                    chat.learn_channel(channel);
                    navigate(&path, Default::default());
                }
                Err(e) => {
                    let lost = matches!(
                        e.code,
                        ApiErrorCode::Unavailable | ApiErrorCode::Unreachable
                    );
                    unanswered.set(lost.then_some(wanted));
                    error.set(Some(sentence(&e.message)));
                }
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
