//! A message in the log, one component per file: the message itself
//! (`item`), its body, time, reactions and picker, the edit form, its
//! thread's summary and "Reply in thread" (`thread_link`), "Copy link",
//! and a message of this user's still on its way (`pending`).

pub mod body;
pub mod copy_link;
pub mod edit_form;
pub mod item;
pub mod pending;
pub mod reaction_picker;
pub mod reactions;
pub mod thread_link;
pub mod time;
