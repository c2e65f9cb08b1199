//! Configuration from the environment, as `template.yaml` (or `bnb-local`) sets it.

/// The AWS SDK configuration for this process: region and credentials from the usual chain;
/// `AWS_ENDPOINT_URL` (honoured by the SDK) points every client at moto or another endpoint.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The AWS SDK configuration for an explicit endpoint (moto, in tests and `bnb-local --endpoint`):
/// a fixed region and, unless the environment has some, throwaway credentials.
pub async fn aws_sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())));
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "bnb-local"));
    }
    loader.load().await
}

/// An environment variable, or a default.
pub fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// A variable a function cannot start without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set; this function cannot start without it (template.yaml sets it)")]
pub struct MissingVariable(pub String);

/// A variable the function needs: checked at start-up, so a function with a missing setting
/// stops at init naming it, instead of running with a guess.
pub fn required(var: &str) -> Result<String, MissingVariable> {
    std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| MissingVariable(var.to_owned()))
}
