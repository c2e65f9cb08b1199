//! The AWS SDK configuration: loaded once per process, shared by every client built from it.

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
        loader = loader.credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "bnb-local"));
    }
    loader.load().await
}
