//! Creating a channel: a field labelled "Channel name" and a "Create" button.
//! A clash (ignoring case) or a broken rule shows the server's reason.
//!
//! A create whose answer was lost (the server was unreachable, or answered
//! `unavailable` or with an internal error, as a proxy in between may) may
//! still have made the channel. Its retry then hears `channel_exists`; if
//! the channel of exactly that name is this user's, the form opens it
//! instead of refusing. Only after a lost answer: otherwise a clash is
//! always shown, and a channel someone else made is never opened.

use crate::api;
use crate::components::field::{sentence, FieldError, TextField};
use crate::error::{ApiError, ApiErrorCode};
use crate::model::{Channel, ChannelName, DisplayName};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// The channel named `name` if `me` made it, asked of the server (the
/// `channel_created` notice may not have arrived yet). `Err`: the list
/// could not be had either, so whether the channel was made is still
/// unknown.
async fn made_by(me: &DisplayName, name: &ChannelName) -> Result<Option<Channel>, ApiError> {
    let channels = api::list_channels().await?;
    Ok(channels
        .into_iter()
        .find(|c| &c.name == name && &c.created_by == me))
}

/// An answer that says nothing of whether the change was made.
fn outcome_unknown(code: ApiErrorCode) -> bool {
    matches!(
        code,
        ApiErrorCode::Unavailable | ApiErrorCode::Unreachable | ApiErrorCode::Internal
    )
}

#[component]
pub fn ChannelForm() -> impl IntoView {
    let chat = Chat::expect();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // The name of the last create whose outcome is unknown.
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
        // Read now: the form may be gone by the time the answer comes.
        let retrying = unanswered.get_untracked().as_ref() == Some(&wanted);
        let me = chat.user.get_untracked().map(|u| u.display_name);
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            // `Err((error, unknown))`: `unknown` if the channel may exist
            // made by this attempt or an earlier lost one.
            let created = match (api::create_channel(raw).await, me) {
                (Ok(channel), _) => Ok(channel),
                (Err(e), Some(me)) if e.code == ApiErrorCode::ChannelExists && retrying => {
                    match made_by(&me, &wanted).await {
                        Ok(Some(channel)) => Ok(channel),
                        Ok(None) => Err((e, false)),
                        Err(list) => Err((list, true)),
                    }
                }
                (Err(e), _) => {
                    // A refused retry (too fast) leaves the lost one unknown.
                    let unknown = outcome_unknown(e.code)
                        || (retrying && e.code == ApiErrorCode::RateLimited);
                    Err((e, unknown))
                }
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
                Err((e, unknown)) => {
                    unanswered.set(unknown.then_some(wanted));
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
