//! "Direct messages": a `nav` with one link per private conversation of
//! this user (`/dm/<name>`), each with its unread count.

use crate::components::channel_list::UnreadBadge;
use crate::state::Chat;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn ConversationList() -> impl IntoView {
    let chat = Chat::expect();
    view! {
        <Show when=move || chat.conversations.with(|c| !c.is_empty())>
            <nav aria-label="Direct messages" class="channels conversations">
                <h2 class="section-title">"Direct messages"</h2>
                <ul>
                    <For
                        each=move || chat.conversations.get()
                        key=|c| c.channel.clone()
                        children=move |conversation| {
                            let href = conversation.with.conversation_path();
                            let channel = conversation.channel.clone();
                            let unread = move || chat.unread_in(&channel).map(|(n, _)| n);
                            view! {
                                <li>
                                    <A href=href>
                                        <span class="hash" aria-hidden="true">"@"</span>
                                        <span class="channel-name">{conversation.with.to_string()}</span>
                                        {move || unread().map(|count| view! { <UnreadBadge count/> })}
                                    </A>
                                </li>
                            }
                        }
                    />
                </ul>
            </nav>
        </Show>
    }
}
