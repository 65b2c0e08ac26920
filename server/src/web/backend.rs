//! The adapter through which the server functions in `app` reach the hub:
//! `impl app::api::ChatBackend`. It turns cookies into users and hub errors
//! into `ApiError`s; the rules themselves live in the hub.

use crate::chat::HubError;
use crate::hub::Hub;
use crate::web::identity::{cookie, removal_cookies, session_from_headers, upgraded_cookies};
use crate::web::limits::{retry_after_ms, Limits};
use app::api::{ChatBackend, Registration};
use app::error::{ApiError, ApiErrorCode};
use app::model::{
    Channel, ChannelHistory, ChannelName, Conversation, DisplayName, Person, SearchHit,
    SearchQuery, TopicText, Unread, UserInfo,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct HubBackend {
    pub hub: Hub,
    pub limits: Arc<Limits>,
    pub secure_cookies: bool,
}

impl HubBackend {
    /// `Set-Cookie` header values (a cookie is always a valid one).
    fn cookies(&self, cookies: impl IntoIterator<Item = String>) -> Vec<http::HeaderValue> {
        cookies
            .into_iter()
            .filter_map(|cookie| http::HeaderValue::from_str(&cookie).ok())
            .collect()
    }

    async fn signed_in(&self, headers: &http::HeaderMap) -> Result<UserInfo, ApiError> {
        self.current_user(headers)
            .await
            .ok_or_else(|| ApiError::new(ApiErrorCode::NotSignedIn, "sign in first"))
    }
}

#[async_trait::async_trait]
impl ChatBackend for HubBackend {
    async fn register(&self, headers: &http::HeaderMap, name: DisplayName) -> Registration {
        let current = session_from_headers(headers);
        let caller = |hub: &Hub| current.as_ref().and_then(|hash| hub.user_by_session(hash));
        // A cookie this server does not know may name a session it has not
        // applied yet (made on another server, or by an attempt whose
        // answer was lost): catch up first, so the cookie is judged for
        // what it is, or answer 503 and touch nothing. (Redis runs one
        // connection's calls in order, so an earlier attempt that ran at
        // all ran before this catch-up's read.)
        if current.is_some() && caller(&self.hub).is_none() && !self.hub.sync().await {
            return Registration {
                outcome: Err(HubError::StoreDown.into()),
                cookies: Vec::new(),
            };
        }
        let (outcome, token) = match self.hub.register(name, current.as_ref()) {
            // The session counts once it would survive a crash (and, with
            // Redis, once Redis took it). Re-registering one's own name
            // makes nothing: the cookie the caller has proves it already.
            Ok((user, token, proposed)) => (self.hub.settled(proposed).await.map(|_| user), token),
            Err(err) => (Err(err), None),
        };
        let cookies: Vec<http::HeaderValue> = token
            .map(|token| self.cookies([cookie(&token, self.secure_cookies)]))
            .unwrap_or_default();
        let (outcome, cookies) = match outcome {
            Ok(user) => {
                tracing::info!(user = %user.display_name, "registered");
                (Ok(user), cookies)
            }
            // Redis may have made the new user and lost only its answer.
            // Without its cookie a retry would find the name taken by a
            // session nobody holds, so the cookie goes out with the 503,
            // as it would have with a 200.
            Err(err @ HubError::StoreDown) => (Err(err.into()), cookies),
            Err(err) => (Err(err.into()), Vec::new()),
        };
        Registration { outcome, cookies }
    }

    async fn current_user(&self, headers: &http::HeaderMap) -> Option<UserInfo> {
        self.hub
            .user_by_session_synced(&session_from_headers(headers)?)
            .await
    }

    async fn unread(&self, headers: &http::HeaderMap) -> Result<Vec<Unread>, ApiError> {
        let user = self.signed_in(headers).await?;
        Ok(self.hub.unread(&user))
    }

    async fn create_channel(
        &self,
        headers: &http::HeaderMap,
        name: ChannelName,
    ) -> Result<Channel, ApiError> {
        let user = self.current_user(headers).await.ok_or_else(|| {
            ApiError::new(
                ApiErrorCode::NotSignedIn,
                "choose a display name before creating a channel",
            )
        })?;
        if let Err(wait) = self.limits.check_channel(user.user_id) {
            let ms = retry_after_ms(wait);
            return Err(ApiError::rate_limited(
                format!(
                    "you are creating channels too fast; try again in {} s",
                    ms.div_ceil(1000)
                ),
                ms,
            ));
        }
        let (channel, proposed) = self.hub.create_channel(&user, name)?;
        self.hub.settled(proposed).await?;
        tracing::info!(channel = %channel.name, by = %user.display_name, "channel created");
        Ok(channel)
    }

    async fn channels(&self) -> Vec<Channel> {
        self.hub.channels()
    }

    async fn users(&self, headers: &http::HeaderMap) -> Result<Vec<DisplayName>, ApiError> {
        self.signed_in(headers).await?;
        Ok(self.hub.users())
    }

    async fn people(&self, headers: &http::HeaderMap) -> Result<Vec<Person>, ApiError> {
        self.signed_in(headers).await?;
        Ok(self.hub.people())
    }

    async fn sign_out(
        &self,
        headers: &http::HeaderMap,
        everywhere: bool,
    ) -> Result<Vec<http::HeaderValue>, ApiError> {
        let Some(hash) = session_from_headers(headers) else {
            return Ok(self.cookies(removal_cookies(self.secure_cookies)));
        };
        let proposed = match (everywhere, self.hub.user_by_session_synced(&hash).await) {
            (true, Some(user)) => {
                tracing::info!(user = %user.display_name, "signed out everywhere");
                self.hub.sign_out_everywhere(&user)?
            }
            _ => self.hub.sign_out(&hash)?,
        };
        self.hub.settled(proposed).await?;
        Ok(self.cookies(removal_cookies(self.secure_cookies)))
    }

    fn cookie_updates(&self, headers: &http::HeaderMap) -> Vec<http::HeaderValue> {
        self.cookies(upgraded_cookies(headers, self.secure_cookies))
    }

    async fn history(
        &self,
        headers: &http::HeaderMap,
        name: &ChannelName,
    ) -> Result<ChannelHistory, ApiError> {
        let viewer = self.current_user(headers).await;
        Ok(self.hub.history(viewer.as_ref(), name)?)
    }

    async fn open_conversation(
        &self,
        headers: &http::HeaderMap,
        with: DisplayName,
    ) -> Result<Channel, ApiError> {
        let user = self.signed_in(headers).await?;
        // Opening one already started costs nothing; starting one is
        // limited, as making a channel is.
        if self.hub.find_conversation(&user, &with)?.is_none() {
            if let Err(wait) = self.limits.check_conversation(user.user_id) {
                let ms = retry_after_ms(wait);
                return Err(ApiError::rate_limited(
                    format!(
                        "you are starting conversations too fast; try again in {} s",
                        ms.div_ceil(1000)
                    ),
                    ms,
                ));
            }
        }
        let (channel, proposed) = self.hub.open_conversation(&user, &with)?;
        match self.hub.settled(proposed).await {
            // Opened on another server at the same moment: that one counts.
            Err(HubError::ChannelExists(_)) => {
                self.hub.sync().await;
                Ok(self.hub.open_conversation(&user, &with)?.0)
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(channel),
        }
    }

    async fn find_conversation(
        &self,
        headers: &http::HeaderMap,
        with: DisplayName,
    ) -> Result<Option<Channel>, ApiError> {
        let user = self.signed_in(headers).await?;
        Ok(self.hub.find_conversation(&user, &with)?)
    }

    async fn conversations(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Vec<Conversation>, ApiError> {
        let user = self.signed_in(headers).await?;
        Ok(self.hub.conversations(&user))
    }

    async fn search(
        &self,
        headers: &http::HeaderMap,
        query: &SearchQuery,
    ) -> Result<Vec<SearchHit>, ApiError> {
        let user = self.signed_in(headers).await?;
        if let Err(wait) = self.limits.check_search(user.user_id) {
            let ms = retry_after_ms(wait);
            return Err(ApiError::rate_limited(
                format!(
                    "you are searching too fast; try again in {} s",
                    ms.div_ceil(1000)
                ),
                ms,
            ));
        }
        Ok(self.hub.search(&user, query))
    }

    async fn set_topic(
        &self,
        headers: &http::HeaderMap,
        channel: &ChannelName,
        topic: Option<TopicText>,
    ) -> Result<Channel, ApiError> {
        let user = self.signed_in(headers).await?;
        // A topic costs what a message does: an event in every log.
        if let Err(wait) = self.limits.check_message(user.user_id) {
            let ms = retry_after_ms(wait);
            return Err(ApiError::rate_limited(
                format!(
                    "you are changing topics too fast; try again in {} s",
                    ms.div_ceil(1000)
                ),
                ms,
            ));
        }
        let (channel, proposed) = self.hub.set_topic(&user, channel, topic)?;
        self.hub.settled(proposed).await?;
        Ok(channel)
    }
}
