//! A message's body: the server's sanitized HTML, or plain text; never
//! HTML made in the browser from what a user typed.

use crate::model::Message;
use leptos::prelude::*;

/// The body: the server's sanitized HTML when the Markdown had markup,
/// else plain text.
#[component]
pub fn MessageBodyView(message: Message) -> impl IntoView {
    if message.html.is_empty() {
        view! { <p class="body">{message.body.to_string()}</p> }.into_any()
    } else {
        view! { <div class="body rich" inner_html=message.html></div> }.into_any()
    }
}
