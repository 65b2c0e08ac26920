//! `/`: reopens the channel or conversation the user was in last time
//! (remembered in localStorage), or invites them to pick or create one.

use crate::browser;
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::{hooks::use_navigate, NavigateOptions};

#[component]
pub fn HomePage() -> impl IntoView {
    let chat = Chat::expect();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if !chat.hydrated.get() {
            return;
        }
        let Some(channel) = browser::remembered_channel() else {
            return;
        };
        // A conversation reopens at `/dm/<name>`, once the list of
        // conversations (fetched after connecting) says with whom.
        let path = if channel.is_conversation() {
            let with = chat.conversations.with(|list| {
                list.iter()
                    .find(|c| c.channel == channel)
                    .map(|c| c.with.clone())
            });
            let Some(with) = with else { return };
            with.conversation_path()
        } else {
            channel.path()
        };
        let path = match browser::remembered_thread(&channel) {
            Some(root) => format!("{path}?thread={root}"),
            None => path,
        };
        navigate(
            &path,
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        );
    });
    view! {
        <section class="empty-pane">
            <h1>"Welcome to Flack"</h1>
            <p>"Pick a channel from the list, or create one to start talking."</p>
        </section>
    }
}
