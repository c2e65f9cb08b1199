//! The identity context: who may do what. People sign in through the user pool (Cognito on AWS,
//! the development sign-in in `bnb-local`); what they may do is the pool's groups. Everyone who
//! signs up is a `guest` (the pool's post-confirmation trigger, [`enrol_guest`]); anyone may
//! become a `host` too ([`become_host`], `POST /me/host`). A token carries the groups the pool
//! held when it was issued, so a new group shows in the next token.

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::Actor;

/// A group of the user pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Guest,
    Host,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Guest => "guest",
            Group::Host => "host",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    /// The pool has no such user (a token outlived its user).
    #[error("the user pool has no user {0}")]
    NoSuchUser(String),
    #[error("the user pool is unavailable: {0}")]
    Unavailable(String),
}

/// The user pool's groups: the one thing bnb changes in it.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Puts `user` (the token's `sub`, the pool's username) in `group`; a user already in it stays.
    async fn add_to_group(&self, user: &str, group: Group) -> Result<(), DirectoryError>;
}

/// The user pools bnb's functions reach: the pool a trigger names (Cognito passes its id in the
/// event, since a pool's trigger cannot be told its own pool's id without a cycle in the
/// template), or the one a function's environment names.
pub trait UserPools: Send + Sync {
    fn pool(&self, user_pool_id: &str) -> std::sync::Arc<dyn UserDirectory>;
}

/// What `POST /me/host` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BecameHost {
    pub user_id: String,
    pub group: Group,
    /// Whether the caller's token already says so (else the next one will).
    pub token_is_current: bool,
}

/// `POST /me/host`: the caller becomes a host too. Asking twice is the same as asking once.
pub async fn become_host(directory: &dyn UserDirectory, caller: &Actor) -> Result<BecameHost, DirectoryError> {
    directory.add_to_group(caller.user_id.as_str(), Group::Host).await?;
    Ok(BecameHost { user_id: caller.user_id.to_string(), group: Group::Host, token_is_current: caller.is_host() })
}

/// The user pool's post-confirmation trigger: every new user is a guest.
pub async fn enrol_guest(directory: &dyn UserDirectory, user: &str) -> Result<(), DirectoryError> {
    directory.add_to_group(user, Group::Guest).await
}
