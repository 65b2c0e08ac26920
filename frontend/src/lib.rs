//! `frontend`: the WASM entry points. `hydrate` takes over the page the
//! server rendered (the normal build, by cargo-leptos); `start` renders the
//! whole app in the browser for the client-only Trunk build. Everything else
//! lives in `app`, so server and browser share one definition.
#![recursion_limit = "256"]

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

#[cfg(feature = "csr")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
