//! The frame around every route: who you are (from the session cookie), the
//! sidebar and the open page; or, when nobody is signed in, the name prompt.

use crate::api;
use crate::components::{name_prompt::NamePrompt, search::SearchBox, sidebar::Sidebar};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::components::Outlet;

#[component]
pub fn Workspace() -> impl IntoView {
    let chat = Chat::expect();
    let me = Resource::new(|| (), |_| api::me());
    let channels = Resource::new(|| (), |_| api::list_channels());

    // In the browser: connect once someone is signed in; and if the cookie is
    // unknown but a name is remembered, sign in again without asking.
    Effect::new(move |_| {
        if !chat.hydrated.get() {
            return;
        }
        if chat.user.with(Option::is_some) {
            crate::client::socket::start(chat);
        }
    });
    Effect::new(move |tried: Option<bool>| {
        if tried == Some(true) || !chat.hydrated.get() {
            return tried.unwrap_or(false);
        }
        if chat.user.with_untracked(Option::is_none) && crate::browser::remembered_name().is_some()
        {
            leptos::task::spawn_local(crate::state::session::restore_session(chat));
        }
        true
    });

    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading Flack…"</p> }>
            {move || Suspend::new(async move {
                // The server render and hydration see the same resource
                // values, so both render the same page from them.
                if let Ok(user) = me.await {
                    if chat.user.get_untracked().is_none() {
                        chat.user.set(user);
                    }
                }
                if let Ok(list) = channels.await {
                    for channel in list {
                        chat.learn_channel(channel);
                    }
                }
                view! {
                    <Show
                        when=move || chat.user.with(Option::is_some)
                        fallback=|| view! { <NamePrompt/> }
                    >
                        <div class="workspace">
                            <Sidebar/>
                            <main class="pane">
                                <SearchBox/>
                                <Outlet/>
                            </main>
                        </div>
                    </Show>
                }
            })}
        </Suspense>
    }
}
