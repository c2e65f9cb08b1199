//! Secrets from SSM Parameter Store: a SecureString parameter, decrypted by `GetParameter`
//! (`WithDecryption`), read in the function's init (`bnb_lambda::run::read_secrets`; again on
//! first use if that failed) and kept until the other side refuses it (a rotated
//! key), when it is read again. The function's role may read that one parameter
//! (template.yaml); its name comes from a template parameter, so the value is in neither the
//! code, the template nor the function's environment.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bnb_contexts::secrets::{Secret, SecretError, SecretSource};

pub struct SsmSecret {
    client: aws_sdk_ssm::Client,
    name: String,
    value: Mutex<Option<Secret>>,
}

impl SsmSecret {
    pub fn new(config: &aws_config::SdkConfig, name: impl Into<String>) -> SsmSecret {
        SsmSecret { client: aws_sdk_ssm::Client::new(config), name: name.into(), value: Mutex::new(None) }
    }
}

#[async_trait]
impl SecretSource for SsmSecret {
    async fn secret(&self) -> Result<Secret, SecretError> {
        if let Some(known) = self.value.lock().ok().and_then(|v| v.clone()) {
            return Ok(known);
        }
        let error = |reason: String| SecretError { name: self.name.clone(), reason };
        let out = self
            .client
            .get_parameter()
            .name(&self.name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| error(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
        let secret =
            out.parameter.and_then(|p| p.value).filter(|v| !v.is_empty()).map(Secret::new).ok_or_else(|| error("the parameter has no value".into()))?;
        if let Ok(mut value) = self.value.lock() {
            *value = Some(secret.clone());
        }
        Ok(secret)
    }

    fn forget(&self) {
        if let Ok(mut value) = self.value.lock() {
            *value = None;
        }
    }
}

/// The secret a parameter holds, as a function's main hands it to `bnb_lambda::AwsAdapters`.
pub fn secret(config: &aws_config::SdkConfig, name: String) -> Arc<dyn SecretSource> {
    Arc::new(SsmSecret::new(config, name))
}
