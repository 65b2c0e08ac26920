//! UI components, one per file. They read and write the `Chat` context and
//! call server functions; none of them holds chat state of its own beyond
//! what a form field needs.

pub mod attachments;
pub mod channel_form;
pub mod channel_list;
pub mod composer;
pub mod connection_banner;
pub mod connection_status;
pub mod conversation_list;
pub mod field;
pub mod message;
pub mod message_log;
pub mod name_prompt;
pub mod notifications_toggle;
pub mod people;
pub mod reply_composer;
pub mod search;
pub mod sidebar;
pub mod sign_out;
pub mod thread_panel;
pub mod topic;
pub mod typing_line;
pub mod workspace;
