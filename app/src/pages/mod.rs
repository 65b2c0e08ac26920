//! Route components: `/` (home), `/c/:channel` (a channel), `/dm/:name`
//! (a private conversation), and the 404 page.

pub mod channel;
pub mod home;
pub mod not_found;
