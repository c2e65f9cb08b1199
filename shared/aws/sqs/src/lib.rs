//! The SQS adapters: a consumer's dead-letter queue (all a function needs), and whole queues for
//! the local runtime and tests on an AWS endpoint.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageAttributeValue as SqsAttribute, MessageSystemAttributeName, QueueAttributeName};
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::messaging::{Attributes, MessagingError, Queue, QueueDepth, ReceivedMessage};

fn unavailable<E: std::error::Error + 'static>(e: E) -> MessagingError {
    MessagingError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn build_err(e: impl std::fmt::Display) -> MessagingError {
    MessagingError::Invalid(e.to_string())
}

/// A consumer's DLQ, known by its URL (what `!Ref` of a queue gives): a consumer only sends to
/// it, so nothing is looked up at start-up.
#[derive(Clone)]
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsDeadLetters {
    pub fn new(config: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        SqsDeadLetters { client: aws_sdk_sqs::Client::new(config), url: url.into() }
    }
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn dead_letter(&self, body: &str, attributes: &Attributes) -> Result<(), MessagingError> {
        let mut request = self.client.send_message().queue_url(&self.url).message_body(body);
        for (name, value) in attributes {
            let attr = SqsAttribute::builder().data_type("String").string_value(value).build().map_err(build_err)?;
            request = request.message_attributes(name, attr);
        }
        request.send().await.map_err(unavailable)?;
        Ok(())
    }
}

/// An SQS queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    name: String,
    url: String,
    arn: String,
}

impl SqsQueue {
    /// The queue called `name`, which must exist.
    pub async fn open(config: &aws_config::SdkConfig, name: &str) -> Result<SqsQueue, MessagingError> {
        let client = aws_sdk_sqs::Client::new(config);
        let url = client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some(code) if code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist") => MessagingError::NotFound(name.to_owned()),
                _ => unavailable(e),
            })?
            .queue_url
            .unwrap_or_default();
        let arn = queue_arn(&client, &url).await?;
        Ok(SqsQueue { client, name: name.to_owned(), url, arn })
    }

    /// Creates the queue if missing, with its visibility timeout and (with a DLQ) its redrive policy.
    pub async fn ensure(
        config: &aws_config::SdkConfig,
        name: &str,
        visibility_timeout_seconds: u32,
        redrive: Option<(&SqsQueue, u32)>,
    ) -> Result<SqsQueue, MessagingError> {
        let client = aws_sdk_sqs::Client::new(config);
        let mut request = client.create_queue().queue_name(name).attributes(QueueAttributeName::VisibilityTimeout, visibility_timeout_seconds.to_string());
        if let Some((dlq, max_receive_count)) = redrive {
            let policy = serde_json::json!({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receive_count});
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = request.send().await.map_err(unavailable)?.queue_url.unwrap_or_default();
        let arn = queue_arn(&client, &url).await?;
        // SNS may deliver only when the queue's policy lets it; moto and a fresh account agree.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn}]
        });
        client.set_queue_attributes().queue_url(&url).attributes(QueueAttributeName::Policy, policy.to_string()).send().await.map_err(unavailable)?;
        Ok(SqsQueue { client, name: name.to_owned(), url, arn })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, MessagingError> {
    let out = client.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await.map_err(unavailable)?;
    out.attributes.and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned()).ok_or_else(|| MessagingError::Unavailable(format!("no ARN for queue {url}")))
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    fn arn(&self) -> String {
        self.arn.clone()
    }

    async fn send(&self, body: &str, attributes: &Attributes) -> Result<String, MessagingError> {
        let mut request = self.client.send_message().queue_url(&self.url).message_body(body);
        for (name, value) in attributes {
            let attr = SqsAttribute::builder().data_type("String").string_value(value).build().map_err(build_err)?;
            request = request.message_attributes(name, attr);
        }
        Ok(request.send().await.map_err(unavailable)?.message_id.unwrap_or_default())
    }

    async fn receive(&self, max: usize) -> Result<Vec<ReceivedMessage>, MessagingError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let system: HashMap<MessageSystemAttributeName, String> = m.attributes.unwrap_or_default();
                let number = |name: MessageSystemAttributeName| system.get(&name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
                ReceivedMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    attributes: m.message_attributes.unwrap_or_default().into_iter().filter_map(|(k, v)| v.string_value.map(|s| (k, s))).collect(),
                    receive_count: number(MessageSystemAttributeName::ApproximateReceiveCount) as u32,
                    sent_at_ms: number(MessageSystemAttributeName::SentTimestamp),
                }
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), MessagingError> {
        self.client.delete_message().queue_url(&self.url).receipt_handle(receipt_handle).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// `DeleteMessageBatch`, ten receipts a call (SQS's limit).
    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<(), MessagingError> {
        for chunk in receipt_handles.chunks(10) {
            let mut request = self.client.delete_message_batch().queue_url(&self.url);
            for (i, receipt) in chunk.iter().enumerate() {
                request = request.entries(DeleteMessageBatchRequestEntry::builder().id(format!("d{i}")).receipt_handle(receipt).build().map_err(build_err)?);
            }
            let out = request.send().await.map_err(unavailable)?;
            if let Some(failed) = out.failed.first() {
                return Err(MessagingError::Unavailable(format!(
                    "DeleteMessageBatch entry {} failed: {} {}",
                    failed.id,
                    failed.code,
                    failed.message.as_deref().unwrap_or("")
                )));
            }
        }
        Ok(())
    }

    async fn release(&self, receipt_handle: &str) -> Result<(), MessagingError> {
        self.client.change_message_visibility().queue_url(&self.url).receipt_handle(receipt_handle).visibility_timeout(0).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, MessagingError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(unavailable)?;
        let attrs = out.attributes.unwrap_or_default();
        let n = |name: QueueAttributeName| attrs.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueDepth { visible: n(QueueAttributeName::ApproximateNumberOfMessages), in_flight: n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible) })
    }
}

/// A consumer's DLQ by URL, as a function's main hands it to `bnb_lambda::AwsAdapters`.
pub fn dead_letters(config: &aws_config::SdkConfig, url: String) -> std::sync::Arc<dyn DeadLetters> {
    std::sync::Arc::new(SqsDeadLetters::new(config, url))
}
