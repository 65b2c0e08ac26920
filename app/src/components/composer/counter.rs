//! The length counter, shown once a message nears the limit.

use crate::model::MESSAGE_BODY_MAX_CHARS;
use leptos::prelude::*;

/// Past this many characters the composer shows a counter.
const COUNTER_FROM: usize = MESSAGE_BODY_MAX_CHARS - 500;

#[component]
pub fn LengthCounter(draft: RwSignal<String>) -> impl IntoView {
    let length = move || draft.with(|d| d.trim_end().chars().count());
    view! {
        <Show when=move || { length() > COUNTER_FROM }>
            <span class="counter" class:over=move || { length() > MESSAGE_BODY_MAX_CHARS }>
                {move || format!("{} / {}", length(), MESSAGE_BODY_MAX_CHARS)}
            </span>
        </Show>
    }
}
