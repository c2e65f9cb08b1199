//! The DynamoDB Streams reader: what `bnb-local` (on an AWS endpoint such as moto) and the tests
//! use to follow a table's changes. Lambda functions get their stream records from the event
//! source mapping and never link this crate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bnb_aws_dynamodb::{DynamoTable, StreamReader};
use bnb_contexts::storage::{ChangeKind, Item, Key, StorageError, StreamBatch, StreamPosition, StreamRecord, TableSpec};

/// A DynamoDB table whose change stream this process reads.
pub fn streaming_table(config: &aws_config::SdkConfig, spec: TableSpec) -> DynamoTable {
    DynamoTable::new(config, spec).with_stream_reader(Arc::new(DynamoStreams::new(config)))
}

/// The DynamoDB Streams client.
#[derive(Clone)]
pub struct DynamoStreams {
    client: aws_sdk_dynamodbstreams::Client,
}

impl DynamoStreams {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        DynamoStreams { client: aws_sdk_dynamodbstreams::Client::new(config) }
    }
}

#[async_trait]
impl StreamReader for DynamoStreams {
    async fn read(&self, stream_arn: &str, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        let arn = stream_arn.to_owned();
        let mut position = decode_position(from)?;
        let mut shards = Vec::new();
        let mut start_shard = None;
        loop {
            let out = self.client.describe_stream().stream_arn(&arn).set_exclusive_start_shard_id(start_shard).send().await.map_err(unavailable)?;
            let description = out.stream_description;
            let page: Vec<String> =
                description.as_ref().map(|d| d.shards().iter().filter_map(|s| s.shard_id().map(str::to_owned)).collect()).unwrap_or_default();
            shards.extend(page);
            start_shard = description.and_then(|d| d.last_evaluated_shard_id);
            if start_shard.is_none() {
                break;
            }
        }
        let mut records = Vec::new();
        for shard in shards {
            let remaining = limit.saturating_sub(records.len());
            if remaining == 0 {
                break;
            }
            let mut request = self.client.get_shard_iterator().stream_arn(&arn).shard_id(&shard);
            request = match position.get(&shard) {
                Some(seq) => request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(seq),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let iterator = request.send().await.map_err(unavailable)?.shard_iterator;
            let Some(iterator) = iterator else { continue };
            let out = self.client.get_records().shard_iterator(iterator).limit(remaining.min(1000) as i32).send().await.map_err(unavailable)?;
            for record in out.records.unwrap_or_default() {
                let Some(change) = record.dynamodb else {
                    continue;
                };
                let kind = match record.event_name {
                    Some(OperationType::Insert) => ChangeKind::Insert,
                    Some(OperationType::Modify) => ChangeKind::Modify,
                    _ => ChangeKind::Remove,
                };
                let sequence_number = change.sequence_number.clone().unwrap_or_default();
                let keys = from_stream_attributes(change.keys.unwrap_or_default())?;
                position.insert(shard.clone(), sequence_number.clone());
                records.push(StreamRecord {
                    sequence_number: sequence_number.clone(),
                    kind,
                    keys: Key::of(&keys)?,
                    old_image: change.old_image.map(from_stream_attributes).transpose()?,
                    new_image: change.new_image.map(from_stream_attributes).transpose()?,
                    created_at: change.approximate_creation_date_time.map(|t| t.secs()).unwrap_or(0),
                    position: encode_position(&position),
                });
            }
        }
        Ok(StreamBatch { records, next: encode_position(&position) })
    }
}

fn unavailable<E: std::error::Error + 'static>(e: E) -> StorageError {
    StorageError::Unavailable(DisplayErrorContext(&e).to_string())
}

type ShardPositions = BTreeMap<String, String>;

fn decode_position(position: &StreamPosition) -> Result<ShardPositions, StorageError> {
    if position.0.is_empty() {
        return Ok(ShardPositions::new());
    }
    URL_SAFE_NO_PAD
        .decode(&position.0)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| StorageError::Invalid("stream position is not valid".into()))
}

fn encode_position(position: &ShardPositions) -> StreamPosition {
    if position.is_empty() {
        return StreamPosition::start();
    }
    StreamPosition(URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default()))
}

bnb_aws_dynamodb::sdk_attribute_conversions!(
    to_stream_attribute,
    from_stream_attribute,
    aws_sdk_dynamodbstreams::types::AttributeValue,
    aws_sdk_dynamodbstreams::primitives::Blob
);

/// A stream image as an item, by serde_dynamo.
fn from_stream_attributes(attrs: HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>) -> Result<Item, StorageError> {
    let image: HashMap<String, serde_dynamo::AttributeValue> = attrs.into_iter().map(|(k, v)| (k, from_stream_attribute(v))).collect();
    serde_dynamo::from_item(image).map_err(|e| StorageError::Invalid(format!("stream image does not convert: {e}")))
}
