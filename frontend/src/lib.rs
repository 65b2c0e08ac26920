#![recursion_limit = "256"]
//! `frontend`: the WASM entry point. It only hydrates `app::App`; everything
//! else lives in `app` so server and browser share one definition.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
