//! A message in the log, one component per file: the message itself
//! (`item`), its body, time, reactions and picker, the edit form, and a
//! message of this user's still on its way (`pending`).

pub mod body;
pub mod edit_form;
pub mod item;
pub mod pending;
pub mod reaction_picker;
pub mod reactions;
pub mod time;
