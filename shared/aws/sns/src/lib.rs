//! The SNS adapter: a topic (domain events, alerts), and the
//! provisioning the local runtime and tests use on an AWS endpoint (deployed stacks get theirs
//! from `template.yaml`).

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::{MessageAttributeValue as SnsAttribute, PublishBatchRequestEntry};
use bnb_contexts::messaging::{Attributes, MessagingError, Topic};

fn unavailable<E: std::error::Error + 'static>(e: E) -> MessagingError {
    MessagingError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn build_err(e: impl std::fmt::Display) -> MessagingError {
    MessagingError::Invalid(e.to_string())
}

/// An SNS topic.
#[derive(Clone)]
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsTopic {
    pub fn new(config: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        SnsTopic { client: aws_sdk_sns::Client::new(config), topic_arn: topic_arn.into() }
    }

    pub fn arn(&self) -> &str {
        &self.topic_arn
    }

    /// Creates the topic if missing (idempotent in SNS) and returns it.
    pub async fn ensure(config: &aws_config::SdkConfig, name: &str) -> Result<SnsTopic, MessagingError> {
        let client = aws_sdk_sns::Client::new(config);
        let out = client.create_topic().name(name).send().await.map_err(unavailable)?;
        let arn = out.topic_arn.ok_or_else(|| MessagingError::Unavailable("CreateTopic returned no ARN".into()))?;
        Ok(SnsTopic { client, topic_arn: arn })
    }

    /// Subscribes an SQS queue (by ARN) with an optional filter policy on message attributes.
    pub async fn subscribe_queue(&self, queue_arn: &str, filter_policy: Option<&serde_json::Value>, raw: bool) -> Result<String, MessagingError> {
        let mut request = self.client.subscribe().topic_arn(&self.topic_arn).protocol("sqs").endpoint(queue_arn).return_subscription_arn(true);
        if let Some(policy) = filter_policy {
            request = request.attributes("FilterPolicy", policy.to_string()).attributes("FilterPolicyScope", "MessageAttributes");
        }
        if raw {
            request = request.attributes("RawMessageDelivery", "true");
        }
        let out = request.send().await.map_err(unavailable)?;
        Ok(out.subscription_arn.unwrap_or_default())
    }
}

#[async_trait]
impl Topic for SnsTopic {
    async fn publish(&self, message: &str, attributes: &Attributes) -> Result<String, MessagingError> {
        let mut request = self.client.publish().topic_arn(&self.topic_arn).message(message);
        for (name, value) in attributes {
            let attr = SnsAttribute::builder().data_type("String").string_value(value).build().map_err(build_err)?;
            request = request.message_attributes(name, attr);
        }
        let out = request.send().await.map_err(unavailable)?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// `PublishBatch`, ten entries a call (SNS's limit): one request instead of ten.
    async fn publish_batch(&self, messages: &[(String, Attributes)]) -> Result<Vec<String>, MessagingError> {
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(10) {
            let mut request = self.client.publish_batch().topic_arn(&self.topic_arn);
            for (i, (message, attributes)) in chunk.iter().enumerate() {
                let mut entry = PublishBatchRequestEntry::builder().id(format!("m{i}")).message(message);
                for (name, value) in attributes {
                    entry = entry.message_attributes(name, SnsAttribute::builder().data_type("String").string_value(value).build().map_err(build_err)?);
                }
                request = request.publish_batch_request_entries(entry.build().map_err(build_err)?);
            }
            let out = request.send().await.map_err(unavailable)?;
            if let Some(failed) = out.failed.as_ref().and_then(|f| f.first()) {
                return Err(MessagingError::Unavailable(format!(
                    "PublishBatch entry {} failed: {} {}",
                    failed.id,
                    failed.code,
                    failed.message.as_deref().unwrap_or("")
                )));
            }
            let successful = out.successful.unwrap_or_default();
            for i in 0..chunk.len() {
                let id = format!("m{i}");
                let message_id = successful.iter().find(|s| s.id.as_deref() == Some(id.as_str())).and_then(|s| s.message_id.clone());
                ids.push(message_id.ok_or_else(|| MessagingError::Unavailable(format!("PublishBatch said nothing of entry {id}")))?);
            }
        }
        Ok(ids)
    }
}

/// A topic by ARN, as a function's main hands it to `bnb_lambda::AwsAdapters`.
pub fn topic(config: &aws_config::SdkConfig, arn: String) -> std::sync::Arc<dyn Topic> {
    std::sync::Arc::new(SnsTopic::new(config, arn))
}
