//! A message's time: `<time datetime>` in UTC, shown in the viewer's
//! local time once hydrated.

use crate::model::Timestamp;
use crate::state::Chat;
use leptos::prelude::*;

/// `<time datetime="…Z">`: UTC text on the server, the viewer's local time
/// once the browser has taken over (the server cannot know the time zone).
#[component]
pub fn MessageTime(at: Timestamp) -> impl IntoView {
    let chat = Chat::expect();
    let iso = at.to_rfc3339();
    let utc = at.utc_time_of_day();
    let full_iso = iso.clone();
    let text = move || {
        if chat.hydrated.get() {
            local_time(&full_iso).unwrap_or_else(|| utc.clone())
        } else {
            utc.clone()
        }
    };
    let title = {
        let iso = iso.clone();
        move || {
            if chat.hydrated.get() {
                local_date_time(&iso).unwrap_or_else(|| iso.clone())
            } else {
                iso.clone()
            }
        }
    };
    view! { <time datetime=iso title=title>{text}</time> }
}

/// "14:05" for today, "Nov 24, 14:05" for other days, in the viewer's zone.
fn local_time(iso: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        let today = js_sys::Date::new_0();
        let same_day = date.to_date_string() == today.to_date_string();
        let options = js_sys::Object::new();
        let set = |k: &str, v: &str| {
            let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
        };
        set("hour", "2-digit");
        set("minute", "2-digit");
        if !same_day {
            set("month", "short");
            set("day", "numeric");
        }
        Some(String::from(date.to_locale_string("default", &options)))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = iso;
        None
    }
}

/// The full local date and time, for the tooltip.
fn local_date_time(iso: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        Some(String::from(
            date.to_locale_string("default", &JsValue::UNDEFINED),
        ))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = iso;
        None
    }
}
