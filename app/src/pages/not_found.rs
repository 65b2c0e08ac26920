//! The page for any path that is not a route.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="welcome">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to Flack"</a></p>
        </main>
    }
}
