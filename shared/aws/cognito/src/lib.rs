//! The user directory port over Cognito: `AdminAddUserToGroup`, which is idempotent (a user
//! already in the group stays, and the call succeeds).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::operation::admin_add_user_to_group::AdminAddUserToGroupError;
use bnb_contexts::identity::{DirectoryError, Group, UserDirectory, UserPools};

pub struct CognitoDirectory {
    client: aws_sdk_cognitoidentityprovider::Client,
    user_pool_id: String,
}

#[async_trait]
impl UserDirectory for CognitoDirectory {
    async fn add_to_group(&self, user: &str, group: Group) -> Result<(), DirectoryError> {
        match self.client.admin_add_user_to_group().user_pool_id(&self.user_pool_id).username(user).group_name(group.name()).send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(AdminAddUserToGroupError::UserNotFoundException(_)) => Err(DirectoryError::NoSuchUser(user.to_owned())),
                _ => Err(DirectoryError::Unavailable(aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&e).to_string())),
            },
        }
    }
}

/// Every pool, on one client.
pub struct CognitoPools {
    client: aws_sdk_cognitoidentityprovider::Client,
}

impl UserPools for CognitoPools {
    fn pool(&self, user_pool_id: &str) -> Arc<dyn UserDirectory> {
        Arc::new(CognitoDirectory { client: self.client.clone(), user_pool_id: user_pool_id.to_owned() })
    }
}

/// The user pools, as a function's main hands them to `bnb_lambda::AwsAdapters`.
pub fn user_pools(config: &aws_config::SdkConfig) -> Arc<dyn UserPools> {
    Arc::new(CognitoPools { client: aws_sdk_cognitoidentityprovider::Client::new(config) })
}
