//! Server functions: the HTTP half of the wire contract (`/api/...`, JSON
//! bodies). Each one is a thin adapter: parse the input into model types,
//! then delegate to the `ChatBackend` the server provides as context.
//!
//! Invariant: no chat state lives here. `app` only knows the `ChatBackend`
//! trait; `server` implements it and owns all locking.

use crate::error::ApiError;
#[cfg(feature = "ssr")]
use crate::error::ApiErrorCode;
use crate::model::{
    Channel, ChannelHistory, Conversation, DisplayName, Person, SearchHit, Unread, UserInfo,
};
#[cfg(feature = "ssr")]
use crate::model::{ChannelName, SearchQuery, TopicText};
use leptos::prelude::*;

/// What the server provides to the server functions (as an
/// `Arc<dyn ChatBackend>` in Leptos context). Identity comes from the request
/// headers (the session cookie) and nothing else.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ChatBackend: Send + Sync + 'static {
    /// Creates a user (or returns the caller's own user when the cookie
    /// already belongs to that name), with the `Set-Cookie` value to send.
    async fn register(&self, headers: &http::HeaderMap, name: DisplayName) -> Registration;
    /// The user the request's session cookie belongs to, if any.
    async fn current_user(&self, headers: &http::HeaderMap) -> Option<UserInfo>;
    async fn create_channel(
        &self,
        headers: &http::HeaderMap,
        name: ChannelName,
    ) -> Result<Channel, ApiError>;
    async fn channels(&self) -> Vec<Channel>;
    async fn users(&self, headers: &http::HeaderMap) -> Result<Vec<DisplayName>, ApiError>;
    async fn people(&self, headers: &http::HeaderMap) -> Result<Vec<Person>, ApiError>;
    /// Ends the caller's session (or, `everywhere`, all of their user's
    /// sessions); the `Set-Cookie` values that remove the cookie.
    async fn sign_out(
        &self,
        headers: &http::HeaderMap,
        everywhere: bool,
    ) -> Result<Vec<http::HeaderValue>, ApiError>;
    /// `Set-Cookie` values the caller's cookie needs now (a session cookie
    /// from before cookies were `Secure` moves to its `__Host-` name).
    fn cookie_updates(&self, headers: &http::HeaderMap) -> Vec<http::HeaderValue>;
    async fn unread(&self, headers: &http::HeaderMap) -> Result<Vec<Unread>, ApiError>;
    async fn history(
        &self,
        headers: &http::HeaderMap,
        name: &ChannelName,
    ) -> Result<ChannelHistory, ApiError>;
    async fn open_conversation(
        &self,
        headers: &http::HeaderMap,
        with: DisplayName,
    ) -> Result<Channel, ApiError>;
    /// The caller's conversation with `with` if it was started; starts
    /// nothing (what a page visit may ask).
    async fn find_conversation(
        &self,
        headers: &http::HeaderMap,
        with: DisplayName,
    ) -> Result<Option<Channel>, ApiError>;
    async fn conversations(&self, headers: &http::HeaderMap)
        -> Result<Vec<Conversation>, ApiError>;
    /// The messages the caller may see that `query` matches, newest first.
    async fn search(
        &self,
        headers: &http::HeaderMap,
        query: &SearchQuery,
    ) -> Result<Vec<SearchHit>, ApiError>;
    /// Sets (`None`: clears) the topic of a channel the caller may see.
    async fn set_topic(
        &self,
        headers: &http::HeaderMap,
        channel: &ChannelName,
        topic: Option<TopicText>,
    ) -> Result<Channel, ApiError>;
}

/// A registration's answer, and the session cookie to set with it: on
/// success, and also when the outcome is unknown (the store may have
/// taken the new session before the link to it failed). A retry then
/// carries that cookie and finds its own name again if the session was
/// made, or registers afresh if not; without it, the name would be taken
/// by a session nobody holds.
#[cfg(feature = "ssr")]
pub struct Registration {
    pub outcome: Result<UserInfo, ApiError>,
    pub cookies: Vec<http::HeaderValue>,
}

#[cfg(feature = "ssr")]
mod edge {
    use super::*;
    use std::sync::Arc;

    pub fn backend() -> Result<Arc<dyn ChatBackend>, ApiError> {
        use_context::<Arc<dyn ChatBackend>>()
            .ok_or_else(|| ApiError::new(ApiErrorCode::Internal, "chat backend is not configured"))
    }

    pub fn headers() -> http::HeaderMap {
        use_context::<http::request::Parts>()
            .map(|parts| parts.headers)
            .unwrap_or_default()
    }

    /// Adds `Set-Cookie` headers to the response.
    pub fn set_cookies(cookies: Vec<http::HeaderValue>) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            for cookie in cookies {
                response.append_header(http::header::SET_COOKIE, cookie);
            }
        }
    }
}

/// Every public endpoint and the JSON fields its body may have. The server's
/// edge refuses any other field (serde would silently ignore it), so a typo
/// or a forged field is a clear 400, not a silent no-op. A unit test keeps
/// this table equal to the server functions' argument structs.
pub const ENDPOINT_FIELDS: &[(&str, &[&str])] = &[
    ("/api/register", &["display_name"]),
    ("/api/me", &[]),
    ("/api/create_channel", &["name"]),
    ("/api/list_channels", &[]),
    ("/api/list_users", &[]),
    ("/api/people", &[]),
    ("/api/unread", &[]),
    ("/api/open_conversation", &["with"]),
    ("/api/find_conversation", &["with"]),
    ("/api/list_conversations", &[]),
    ("/api/channel_history", &["channel"]),
    ("/api/sign_out", &[]),
    ("/api/sign_out_everywhere", &[]),
    ("/api/set_topic", &["channel", "topic"]),
    ("/api/search", &["query"]),
];

/// `POST /api/register {"display_name": "alice"}`: become a user; sets the
/// session cookie.
#[server(endpoint = "register", input = server_fn::codec::Json)]
pub async fn register(display_name: String) -> Result<UserInfo, ApiError> {
    let name = DisplayName::parse(&display_name).map_err(ApiError::from)?;
    let backend = edge::backend()?;
    let registration = backend.register(&edge::headers(), name).await;
    edge::set_cookies(registration.cookies);
    registration.outcome
}

/// `POST /api/me {}`: the user of the session cookie, or `null`.
#[server(endpoint = "me", input = server_fn::codec::Json)]
pub async fn me() -> Result<Option<UserInfo>, ApiError> {
    let backend = edge::backend()?;
    let headers = edge::headers();
    let user = backend.current_user(&headers).await;
    if user.is_some() {
        edge::set_cookies(backend.cookie_updates(&headers));
    }
    Ok(user)
}

/// `POST /api/sign_out {}`: ends this browser's session and removes its
/// cookie; its open connections close (4001). The user and their name
/// stay: Flack has no passwords, so another browser cannot sign in as
/// them again.
#[server(endpoint = "sign_out", input = server_fn::codec::Json)]
pub async fn sign_out() -> Result<(), ApiError> {
    let cookies = edge::backend()?.sign_out(&edge::headers(), false).await?;
    edge::set_cookies(cookies);
    Ok(())
}

/// `POST /api/sign_out_everywhere {}`: ends every session of the caller's
/// user, in every browser, and removes this browser's cookie.
#[server(endpoint = "sign_out_everywhere", input = server_fn::codec::Json)]
pub async fn sign_out_everywhere() -> Result<(), ApiError> {
    let cookies = edge::backend()?.sign_out(&edge::headers(), true).await?;
    edge::set_cookies(cookies);
    Ok(())
}

/// `POST /api/create_channel {"name": "general"}` (signed in).
#[server(endpoint = "create_channel", input = server_fn::codec::Json)]
pub async fn create_channel(name: String) -> Result<Channel, ApiError> {
    let name = ChannelName::parse(&name).map_err(ApiError::from)?;
    let backend = edge::backend()?;
    backend.create_channel(&edge::headers(), name).await
}

/// `POST /api/list_channels {}`: every channel, oldest first.
#[server(endpoint = "list_channels", input = server_fn::codec::Json)]
pub async fn list_channels() -> Result<Vec<Channel>, ApiError> {
    Ok(edge::backend()?.channels().await)
}

/// `POST /api/list_users {}` (signed in): every user's display name,
/// sorted ignoring case (what `@mention` completion offers).
#[server(endpoint = "list_users", input = server_fn::codec::Json)]
pub async fn list_users() -> Result<Vec<DisplayName>, ApiError> {
    edge::backend()?.users(&edge::headers()).await
}

/// `POST /api/people {}` (signed in): every user with their presence,
/// sorted by name ignoring case. Needs a session: who is online when is
/// about people, and whoever watches it shows up in the list themselves.
#[server(endpoint = "people", input = server_fn::codec::Json)]
pub async fn people() -> Result<Vec<Person>, ApiError> {
    edge::backend()?.people(&edge::headers()).await
}

/// `POST /api/unread {}` (signed in): per channel with unread messages,
/// how many, how many mention you, and your read position.
#[server(endpoint = "unread", input = server_fn::codec::Json)]
pub async fn fetch_unread() -> Result<Vec<Unread>, ApiError> {
    edge::backend()?.unread(&edge::headers()).await
}

/// `POST /api/open_conversation {"with": "bob"}` (signed in): the channel
/// of your private conversation with that user, started if need be.
#[server(endpoint = "open_conversation", input = server_fn::codec::Json)]
pub async fn open_conversation(with: String) -> Result<Channel, ApiError> {
    let with = DisplayName::parse(&with).map_err(ApiError::from)?;
    edge::backend()?
        .open_conversation(&edge::headers(), with)
        .await
}

/// `POST /api/find_conversation {"with": "bob"}` (signed in): the channel
/// of your private conversation with that user, or `null` if it was never
/// started. Changes nothing: a page visit asks this, and only the visitor's
/// own action (`open_conversation`) starts one.
#[server(endpoint = "find_conversation", input = server_fn::codec::Json)]
pub async fn find_conversation(with: String) -> Result<Option<Channel>, ApiError> {
    let with = DisplayName::parse(&with).map_err(ApiError::from)?;
    edge::backend()?
        .find_conversation(&edge::headers(), with)
        .await
}

/// `POST /api/list_conversations {}` (signed in): your private
/// conversations and with whom.
#[server(endpoint = "list_conversations", input = server_fn::codec::Json)]
pub async fn list_conversations() -> Result<Vec<Conversation>, ApiError> {
    edge::backend()?.conversations(&edge::headers()).await
}

/// `POST /api/channel_history {"channel": "general"}`: the 100 most recent
/// messages, oldest first, and the channel's `head`.
#[server(endpoint = "channel_history", input = server_fn::codec::Json)]
pub async fn fetch_history(channel: String) -> Result<ChannelHistory, ApiError> {
    let name = ChannelName::parse(&channel).map_err(ApiError::from)?;
    let backend = edge::backend()?;
    backend.history(&edge::headers(), &name).await
}

/// `POST /api/set_topic {"channel": "general", "topic": "Ship *Friday*"}`
/// (signed in, a channel you may see): the channel with its new topic,
/// once stored; its viewers get a `topic` frame. A blank topic clears it.
#[server(endpoint = "set_topic", input = server_fn::codec::Json)]
pub async fn set_topic(channel: String, topic: String) -> Result<Channel, ApiError> {
    let name = ChannelName::parse(&channel).map_err(ApiError::from)?;
    let topic = TopicText::parse_optional(&topic).map_err(ApiError::from)?;
    edge::backend()?
        .set_topic(&edge::headers(), &name, topic)
        .await
}

/// `POST /api/search {"query": "deploy in:#ops"}` (signed in): up to 50
/// messages you may see that match, newest first, with where the body
/// matched (PROTOCOL.md §3.14).
#[server(endpoint = "search", input = server_fn::codec::Json)]
pub async fn search(query: String) -> Result<Vec<SearchHit>, ApiError> {
    let query = SearchQuery::parse(&query).map_err(ApiError::from)?;
    edge::backend()?.search(&edge::headers(), &query).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use server_fn::ServerFn;

    fn fields<T: serde::Serialize>(args: T) -> Vec<String> {
        match serde_json::to_value(args).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn listed(path: &str) -> Vec<String> {
        let (_, names) = ENDPOINT_FIELDS.iter().find(|(p, _)| *p == path).unwrap();
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_endpoint_table_matches_the_server_functions() {
        assert_eq!(
            listed(Register::PATH),
            fields(Register {
                display_name: String::new()
            })
        );
        assert_eq!(listed(Me::PATH), fields(Me {}));
        assert_eq!(
            listed(CreateChannel::PATH),
            fields(CreateChannel {
                name: String::new()
            })
        );
        assert_eq!(listed(ListChannels::PATH), fields(ListChannels {}));
        assert_eq!(listed(ListUsers::PATH), fields(ListUsers {}));
        assert_eq!(listed(People::PATH), fields(People {}));
        assert_eq!(listed(FetchUnread::PATH), fields(FetchUnread {}));
        assert_eq!(
            listed(OpenConversation::PATH),
            fields(OpenConversation {
                with: String::new()
            })
        );
        assert_eq!(
            listed(FindConversation::PATH),
            fields(FindConversation {
                with: String::new()
            })
        );
        assert_eq!(
            listed(ListConversations::PATH),
            fields(ListConversations {})
        );
        assert_eq!(
            listed(FetchHistory::PATH),
            fields(FetchHistory {
                channel: String::new()
            })
        );
        assert_eq!(listed(SignOut::PATH), fields(SignOut {}));
        assert_eq!(
            listed(SignOutEverywhere::PATH),
            fields(SignOutEverywhere {})
        );
        assert_eq!(
            listed(SetTopic::PATH),
            fields(SetTopic {
                channel: String::new(),
                topic: String::new()
            })
        );
        assert_eq!(
            listed(Search::PATH),
            fields(Search {
                query: String::new()
            })
        );
        assert_eq!(ENDPOINT_FIELDS.len(), 15);
    }
}
