//! Why a change or a request is refused: the domain's refusals, and the
//! two ways recording a change can fail (the log is busy or down).
//! `errors.rs` maps each to the wire.

/// Why an attachment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {got} bytes; the limit is {max} bytes")]
    TooLarge { got: usize, max: usize },
    #[error("the server's space for attachments is full; try again later")]
    Full,
    #[error(
        "your attachments take {held} bytes and this one {got} more; one person may keep \
         {max} bytes (older files go as their messages leave the last 100)"
    )]
    Quota { held: u64, got: u64, max: u64 },
    #[error("attachment {0} is not one of your unsent uploads")]
    NotYours(String),
    #[error("{got} attachments; a message can have at most {max}")]
    TooMany { got: usize, max: usize },
    #[error("the file could not be stored: {0}")]
    Io(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("the display name \"{0}\" is taken; choose another")]
    NameTaken(String),
    #[error("a channel named \"{0}\" already exists")]
    ChannelExists(String),
    #[error("there is no channel named \"{0}\"")]
    UnknownChannel(String),
    #[error("your session is no longer valid; sign in again")]
    UnknownUser,
    /// The log cannot take the change now (its queue is full, or it is
    /// closed for shutdown); nothing was recorded.
    #[error("the server is busy storing earlier changes; try again in a moment")]
    Busy,
    /// Redis did not answer. The change may still have been made there: a
    /// link can fail after the request left.
    #[error("the shared store (Redis) is unreachable; try again in a moment")]
    StoreDown,
    #[error("message {0} is not in this channel's recent history")]
    UnknownMessage(u64),
    #[error("only its author can {0} a message")]
    NotAuthor(&'static str),
    #[error(transparent)]
    Attachment(#[from] FileError),
    #[error("there is no user named \"{0}\"")]
    NoSuchUser(String),
    #[error("channel names starting with \"dm:\" are kept for private conversations")]
    Reserved,
    #[error("client_id {0} was already used for a message in another channel")]
    ClientIdReused(String),
    #[error(transparent)]
    Invalid(#[from] app::model::InputError),
    #[error("you have started {0} private conversations, the most one person may")]
    TooManyConversations(usize),
    #[error("this server holds {0} channels, the most it keeps; use one of them")]
    TooManyChannels(usize),
}
