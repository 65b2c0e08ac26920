//! Uploading one file to `POST /api/upload` with progress. `fetch` cannot
//! report upload progress, so this uses `XMLHttpRequest`. Its three
//! handlers are leaked closures: a few bytes per upload, the usual price of
//! handing Rust callbacks to a DOM object that outlives the call.
//!
//! Invariant: every upload ends in exactly one call of its `done`, with the
//! server's `Attachment` or a sentence saying why not.

use crate::model::Attachment;

/// What an upload reports: progress (0.0–1.0) and, once, the result.
pub struct Callbacks {
    pub progress: Box<dyn Fn(f64)>,
    pub done: Box<dyn FnOnce(Result<Attachment, String>)>,
}

/// Starts uploading `file` (no-op on the server).
#[cfg(feature = "browser")]
pub fn start(file: web_sys::File, callbacks: Callbacks) {
    imp::start(file, callbacks);
}

#[cfg(feature = "browser")]
mod imp {
    use super::*;
    use crate::error::ApiError;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    use std::cell::RefCell;
    use std::rc::Rc;
    use web_sys::{ProgressEvent, XmlHttpRequest};

    pub fn start(file: web_sys::File, callbacks: Callbacks) {
        let Callbacks { progress, done } = callbacks;
        let done = Rc::new(RefCell::new(Some(done)));
        let finish = {
            let done = done.clone();
            move |result: Result<Attachment, String>| {
                if let Some(done) = done.borrow_mut().take() {
                    done(result);
                }
            }
        };
        let Ok(xhr) = XmlHttpRequest::new() else {
            finish(Err("this browser cannot upload files".into()));
            return;
        };
        let url = format!(
            "/api/upload?name={}",
            String::from(js_sys::encode_uri_component(&file.name()))
        );
        if xhr.open("POST", &url).is_err() {
            finish(Err("the upload could not start".into()));
            return;
        }
        if let Ok(upload) = xhr.upload() {
            let on_progress = Closure::<dyn Fn(ProgressEvent)>::new(move |ev: ProgressEvent| {
                if ev.length_computable() && ev.total() > 0.0 {
                    progress(ev.loaded() / ev.total());
                }
            });
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            on_progress.forget();
        }
        let on_load = {
            let xhr = xhr.clone();
            let finish = finish.clone();
            Closure::<dyn FnMut()>::new(move || {
                let text = xhr.response_text().ok().flatten().unwrap_or_default();
                let status = xhr.status().unwrap_or(0);
                let result = if status == 200 {
                    serde_json::from_str::<Attachment>(&text)
                        .map_err(|_| "the server's answer was not understood".to_owned())
                } else {
                    Err(serde_json::from_str::<ApiError>(&text)
                        .map(|e| e.message)
                        .unwrap_or_else(|_| format!("the upload failed (HTTP {status})")))
                };
                finish(result);
            })
        };
        xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        let on_error = Closure::<dyn FnMut()>::new({
            let finish = finish.clone();
            move || {
                finish(Err(
                    "the upload failed: the server could not be reached".into()
                ))
            }
        });
        xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        if xhr.send_with_opt_blob(Some(&file)).is_err() {
            finish(Err("the upload could not start".into()));
        }
    }
}
