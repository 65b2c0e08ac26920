//! "alice is typing…" under the open channel's log: who sent a `typing`
//! notice in the last few seconds. It expires by itself (checked every
//! second), and is polite to screen readers (not a `status` role: that
//! one names the connection).

use crate::model::ChannelName;
use crate::state::Chat;
use leptos::prelude::*;

/// The sentence for `names` typing.
pub fn typing_sentence(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        _ => "Several people are typing…".to_owned(),
    }
}

#[component]
pub fn TypingLine(channel: ChannelName) -> impl IntoView {
    let chat = Chat::expect();
    let now = RwSignal::new(0.0_f64);
    #[cfg(feature = "browser")]
    {
        now.set(js_sys::Date::now());
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(js_sys::Date::now()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    let text = move || {
        let now = now.get();
        let names: Vec<String> = chat.typing.with(|typing| {
            typing
                .iter()
                .filter(|t| t.channel == channel && t.until > now)
                .map(|t| t.user.to_string())
                .collect()
        });
        typing_sentence(&names)
    };
    view! { <p class="typing" aria-live="polite">{text}</p> }
}

#[cfg(test)]
mod tests {
    use super::typing_sentence;

    #[test]
    fn the_sentence_names_one_or_two_and_counts_more() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(typing_sentence(&names(&[])), "");
        assert_eq!(typing_sentence(&names(&["ann"])), "ann is typing…");
        assert_eq!(
            typing_sentence(&names(&["ann", "bo"])),
            "ann and bo are typing…"
        );
        assert_eq!(
            typing_sentence(&names(&["a", "b", "c"])),
            "Several people are typing…"
        );
    }
}
