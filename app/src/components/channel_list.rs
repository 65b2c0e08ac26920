//! The channel list: a `nav` named "Channels", one link per channel, live.

use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn ChannelList() -> impl IntoView {
    let chat = Chat::expect();
    view! {
        <nav aria-label="Channels" class="channels">
            <h2 class="section-title">"Channels"</h2>
            <Show
                when=move || chat.channels.with(|c| !c.is_empty())
                fallback=|| view! { <p class="empty">"No channels yet. Create the first one below."</p> }
            >
                <ul>
                    <For
                        each=move || chat.channels.get()
                        key=|c| c.name.clone()
                        children=move |channel| {
                            let href = channel.name.path();
                            let name = channel.name.to_string();
                            view! {
                                <li>
                                    <A href=href>
                                        <span class="hash" aria-hidden="true">"#"</span>
                                        <span class="channel-name">{name}</span>
                                    </A>
                                </li>
                            }
                        }
                    />
                </ul>
            </Show>
        </nav>
    }
}
