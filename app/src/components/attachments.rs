//! Attachments in the UI: a message's files (image previews, download
//! links with name and size) and the composer's tray of uploads (a
//! progress bar while sending, then the file ready to go with the message).

use crate::model::Attachment;
use leptos::prelude::*;

/// A message's files. Images (as the server sniffed them) get a preview;
/// everything else a download link.
#[component]
pub fn AttachmentList(attachments: Vec<Attachment>) -> impl IntoView {
    (!attachments.is_empty()).then(|| {
        let items = attachments
            .into_iter()
            .map(|file| {
                let (url, name, size) = (file.url(), file.name.clone(), file.size_label());
                if file.is_image() {
                    let link = url.clone();
                    view! {
                        <li class="attachment">
                            <a href=link target="_blank" rel="noopener noreferrer">
                                <img class="preview" src=url alt=name.clone() loading="lazy"/>
                            </a>
                            <span class="file-meta">{format!("{name} · {size}")}</span>
                        </li>
                    }
                    .into_any()
                } else {
                    view! {
                        <li class="attachment">
                            <a class="file" href=url download=name.clone()>{format!("📄 {name}")}</a>
                            <span class="file-meta">{size}</span>
                        </li>
                    }
                    .into_any()
                }
            })
            .collect_view();
        view! { <ul class="attachments" aria-label="Attachments">{items}</ul> }
    })
}

/// One file the composer is uploading or holding for the next message.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub key: u64,
    pub name: String,
    pub state: UploadState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UploadState {
    /// Uploading; the fraction sent so far.
    Sending(f64),
    Ready(Attachment),
    Failed(String),
}

/// Starts uploading every file of `list`, tracking each in `uploads`.
#[cfg(feature = "browser")]
pub fn upload_all(list: web_sys::FileList, uploads: RwSignal<Vec<Upload>>) {
    use crate::browser::upload::{self, Callbacks};
    for i in 0..list.length() {
        let Some(file) = list.get(i) else { continue };
        let key = (js_sys::Math::random() * 1e15) as u64;
        let name = crate::model::file_name(&file.name());
        uploads.update(|u| {
            u.push(Upload {
                key,
                name,
                state: UploadState::Sending(0.0),
            })
        });
        let set = move |state: UploadState| {
            uploads.update(|u| {
                if let Some(item) = u.iter_mut().find(|item| item.key == key) {
                    item.state = state;
                }
            })
        };
        upload::start(
            file,
            Callbacks {
                progress: Box::new(move |done| set(UploadState::Sending(done))),
                done: Box::new(move |result| {
                    set(match result {
                        Ok(attachment) => UploadState::Ready(attachment),
                        Err(why) => UploadState::Failed(why),
                    })
                }),
            },
        );
    }
}

/// The composer's uploads: progress bars, ready files (removable) and
/// refusals (dismissable).
#[component]
pub fn UploadTray(uploads: RwSignal<Vec<Upload>>) -> impl IntoView {
    let remove = move |key: u64| uploads.update(|u| u.retain(|item| item.key != key));
    view! {
        <Show when=move || uploads.with(|u| !u.is_empty())>
            <ul class="uploads" aria-label="Files to send">
                {move || {
                    uploads
                        .get()
                        .into_iter()
                        .map(|Upload { key, name, state }| match state {
                            UploadState::Sending(done) => {
                                let percent = (done * 100.0).round() as u32;
                                view! {
                                    <li class="upload">
                                        <span>{name.clone()}</span>
                                        <progress
                                            max="100"
                                            value=percent
                                            aria-label=format!("Uploading {name}")
                                        >
                                            {format!("{percent}%")}
                                        </progress>
                                    </li>
                                }
                                .into_any()
                            }
                            UploadState::Ready(file) => {
                                view! {
                                    <li class="upload ready">
                                        <span>{format!("📎 {} ({})", file.name, file.size_label())}</span>
                                        <button
                                            type="button"
                                            class="icon"
                                            aria-label=format!("Remove {}", file.name)
                                            on:click=move |_| remove(key)
                                        >"✕"</button>
                                    </li>
                                }
                                .into_any()
                            }
                            UploadState::Failed(why) => {
                                view! {
                                    <li class="upload failed">
                                        <span role="alert">{format!("{name}: {why}")}</span>
                                        <button
                                            type="button"
                                            class="icon"
                                            aria-label=format!("Dismiss {name}")
                                            on:click=move |_| remove(key)
                                        >"✕"</button>
                                    </li>
                                }
                                .into_any()
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </Show>
    }
}
