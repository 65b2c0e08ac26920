//! The channel list: a `nav` named "Channels", one link per channel, live,
//! each with its unread count and a mark when you were mentioned there.

use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::components::A;

/// "3", read as ", 3 unread".
#[component]
pub fn UnreadBadge(count: u32) -> impl IntoView {
    view! {
        <span class="badge" title=format!("{count} unread")>
            <span aria-hidden="true">{count}</span>
            <span class="visually-hidden">{format!(", {count} unread")}</span>
        </span>
    }
}

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
                            let key = channel.name.clone();
                            let counts = Memo::new(move |_| chat.unread_in(&key));
                            view! {
                                <li>
                                    <A href=href>
                                        <span class="hash" aria-hidden="true">"#"</span>
                                        <span class="channel-name" class:has-unread=move || counts.get().is_some()>{name}</span>
                                        {move || counts.get().map(|(unread, mentions)| view! {
                                            <UnreadBadge count=unread/>
                                            {(mentions > 0).then(|| view! {
                                                <span class="badge mention-count" title="You were mentioned">
                                                    <span aria-hidden="true">"@"</span>
                                                    <span class="visually-hidden">", mentioned"</span>
                                                </span>
                                            })}
                                        })}
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
