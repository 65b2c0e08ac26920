//! `app`: everything Flack's server and browser share.
//!
//! - `model`: validated names, bodies, channels, messages (the only place each input rule lives);
//! - `protocol`: the WebSocket frames, `ClientFrame` / `ServerFrame`;
//! - `error`: `ApiError`, what server functions answer when they refuse;
//! - `api`: the server functions and the `ChatBackend` trait the server implements;
//! - `state`: `Chat`, the browser's reactive view of the chat, and the
//!   interpreter of the socket's frames;
//! - `browser`: what the browser offers (localStorage, notifications,
//!   uploads, the outbound frame queue), knowing nothing of `state`;
//! - `client`: the tab's WebSocket, which feeds `state`;
//! - `components`, `pages`: the UI, one component per file.
//!
//! Invariant: this crate holds no server state and never depends on the
//! `server` crate; axum and tokio appear only behind the `ssr` feature.

// Leptos views are deeply nested types; the default limit is too low for hydrate builds.
#![recursion_limit = "256"]

pub mod api;
pub mod browser;
pub mod client;
pub mod components;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod model;
pub mod pages;
pub mod protocol;
pub mod state;

use crate::components::workspace::Workspace;
use crate::pages::{
    channel::{ChannelPage, ConversationPage},
    home::HomePage,
    not_found::NotFound,
};
use crate::state::Chat;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let chat = Chat::new();
    provide_context(chat);

    // Runs only in the browser, once the app is live: readiness for users
    // (forms enable) and for tests (`<html data-hydrated>`).
    Effect::new(move |_| {
        chat.hydrated.set(true);
        #[cfg(feature = "browser")]
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("data-hydrated", "");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/flack.css"/>
        <Title text="Flack"/>
        <Router>
            <Routes fallback=NotFound>
                <ParentRoute path=path!("") view=Workspace ssr=SsrMode::Async>
                    <Route path=path!("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("c/:channel") view=ChannelPage ssr=SsrMode::Async/>
                    <Route path=path!("c/:channel/:seq") view=ChannelPage ssr=SsrMode::Async/>
                    <Route path=path!("dm/:name") view=ConversationPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
