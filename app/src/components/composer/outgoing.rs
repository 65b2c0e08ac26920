//! What the composer sends: the draft and the uploaded files, as one
//! message (a message of only files says which files), once every upload
//! is done.

use crate::components::attachments::{Upload, UploadState};
use crate::components::field::sentence;
use crate::model::{Attachment, ChannelName, InputError, MessageBody};
use crate::state::Chat;
use leptos::prelude::*;

/// The composer's parts a send reads and clears.
#[derive(Clone, Copy)]
pub struct Outgoing {
    pub draft: RwSignal<String>,
    pub uploads: RwSignal<Vec<Upload>>,
    pub error: RwSignal<Option<String>>,
}

impl Outgoing {
    /// Sends the draft and the ready files to `channel`; says why not when
    /// it cannot. Whether it went.
    pub fn send(&self, chat: Chat, channel: &ChannelName) -> bool {
        let uploading = (self.uploads)
            .with_untracked(|u| u.iter().any(|f| matches!(f.state, UploadState::Sending(_))));
        if uploading {
            self.error
                .set(Some("Wait until your files have uploaded.".into()));
            return false;
        }
        let files: Vec<Attachment> = self.uploads.with_untracked(|u| {
            (u.iter())
                .filter_map(|f| match &f.state {
                    UploadState::Ready(file) => Some(file.clone()),
                    _ => None,
                })
                .collect()
        });
        match MessageBody::parse(&text_of(self.draft.get_untracked(), &files)) {
            Ok(body) => {
                chat.send(channel.clone(), body, files, None);
                self.draft.set(String::new());
                (self.uploads).update(|u| u.retain(|f| !matches!(f.state, UploadState::Ready(_))));
                self.error.set(None);
                true
            }
            // Nothing to send: not an error worth a message.
            Err(InputError::Empty { .. }) => false,
            Err(e) => {
                self.error.set(Some(sentence(&e.to_string())));
                false
            }
        }
    }
}

/// The text sent: what was typed, or with nothing typed, the files' names.
fn text_of(typed: String, files: &[Attachment]) -> String {
    if !typed.trim().is_empty() || files.is_empty() {
        return typed;
    }
    (files.iter())
        .map(|f| format!("📎 {}", f.name))
        .collect::<Vec<_>>()
        .join("\n")
}
