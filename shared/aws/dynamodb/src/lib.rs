//! The DynamoDB adapter of the table port (aws-sdk-dynamodb). The change stream is read through
//! the [`StreamReader`] port, which `bnb-aws-dynamodb-streams` implements.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification, TransactWriteItem,
    Update as DynamoUpdate, WriteRequest,
};
use serde_json::Value;
use tokio::sync::OnceCell;

use bnb_contexts::storage::condition::ExpressionContext;
use bnb_contexts::storage::cursor::{Cursor, LastKey};
use bnb_contexts::storage::schema::TTL_ATTRIBUTE;
use bnb_contexts::storage::{
    validate_write, Condition, Item, Key, Page, Query, SortKey, StorageError, StreamBatch, StreamPosition, Table, TableSpec, Update, WriteOp,
};

/// Reads a table's change stream: kept behind a port so that functions, which never read one,
/// do not link the DynamoDB Streams client.
#[async_trait]
pub trait StreamReader: Send + Sync {
    async fn read(&self, stream_arn: &str, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError>;
}

/// A DynamoDB table.
#[derive(Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    spec: Arc<TableSpec>,
    stream_reader: Option<Arc<dyn StreamReader>>,
    stream_arn: Arc<OnceCell<String>>,
}

impl DynamoTable {
    pub fn new(config: &aws_config::SdkConfig, spec: TableSpec) -> Self {
        DynamoTable::with_client(aws_sdk_dynamodb::Client::new(config), spec)
    }

    /// A table on a client already built (a client is cheap to clone; clones share one pool).
    pub fn with_client(client: aws_sdk_dynamodb::Client, spec: TableSpec) -> Self {
        DynamoTable { client, spec: Arc::new(spec), stream_reader: None, stream_arn: Arc::new(OnceCell::new()) }
    }

    /// The same table, reading its change stream through `reader` (bnb-local and tests; a
    /// Lambda function never reads a stream itself).
    pub fn with_stream_reader(mut self, reader: Arc<dyn StreamReader>) -> Self {
        self.stream_reader = Some(reader);
        self
    }

    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }

    /// Every table of `kinds`, as this function's environment names them (a missing name stops
    /// start-up, naming the variable).
    pub fn all_from_env(
        config: &aws_config::SdkConfig,
        kinds: &[bnb_contexts::tables::TableKind],
    ) -> Result<Vec<Arc<dyn Table>>, bnb_contexts::config::MissingVariable> {
        kinds.iter().map(|kind| Ok(Arc::new(DynamoTable::new(config, kind.from_env()?)) as Arc<dyn Table>)).collect()
    }

    /// Creates the table (keys, indexes, stream of new and old images, TTL) if it does not exist.
    /// For the local runtime and tests; deployed stacks get their tables from `template.yaml`.
    pub async fn ensure_exists(&self) -> Result<(), StorageError> {
        let spec = &self.spec;
        let key_schema = |pk: &str, sk: &str| {
            vec![
                KeySchemaElement::builder().attribute_name(pk).key_type(KeyType::Hash).build(),
                KeySchemaElement::builder().attribute_name(sk).key_type(KeyType::Range).build(),
            ]
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
        };
        let mut attrs = vec!["pk".to_string(), "sk".to_string()];
        let mut request = self
            .client
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema("pk", "sk").map_err(build_err)?))
            .stream_specification(
                StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewAndOldImages).build().map_err(build_err)?,
            );
        for index in &spec.indexes {
            attrs.push(index.pk.clone());
            attrs.push(index.sk.clone());
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(key_schema(&index.pk, &index.sk).map_err(build_err)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(build_err)?,
            );
        }
        for attr in attrs {
            request = request
                .attribute_definitions(AttributeDefinition::builder().attribute_name(attr).attribute_type(ScalarAttributeType::S).build().map_err(build_err)?);
        }
        match request.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        self.client
            .update_time_to_live()
            .table_name(&spec.name)
            .time_to_live_specification(TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL_ATTRIBUTE).build().map_err(build_err)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn stream_arn(&self) -> Result<&str, StorageError> {
        self.stream_arn
            .get_or_try_init(|| async {
                let table = self.client.describe_table().table_name(&self.spec.name).send().await.map_err(unavailable)?;
                table
                    .table()
                    .and_then(|t| t.latest_stream_arn())
                    .map(str::to_owned)
                    .ok_or_else(|| StorageError::Unavailable(format!("table {} has no stream", self.spec.name)))
            })
            .await
            .map(String::as_str)
    }

    fn write_item(&self, op: WriteOp) -> Result<TransactWriteItem, StorageError> {
        let table = &self.spec.name;
        let item = match op {
            WriteOp::Put { item, condition } => {
                let mut ctx = ExpressionContext::default();
                let expr = condition.map(|c| c.to_expression(&mut ctx));
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(to_attributes(item)?))
                    .set_condition_expression(expr)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().put(put).build()
            }
            WriteOp::Update(update) => {
                let mut ctx = ExpressionContext::default();
                let (expr, condition) = update_expression(&update, &mut ctx)?;
                let update = DynamoUpdate::builder()
                    .table_name(table)
                    .set_key(Some(key_attributes(&update.key)))
                    .update_expression(expr)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().update(update).build()
            }
            WriteOp::Delete { key, condition } => {
                let mut ctx = ExpressionContext::default();
                let expr = condition.map(|c| c.to_expression(&mut ctx));
                let delete = Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_attributes(&key)))
                    .set_condition_expression(expr)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            WriteOp::ConditionCheck { key, condition } => {
                let mut ctx = ExpressionContext::default();
                let expr = condition.to_expression(&mut ctx);
                let check = ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_attributes(&key)))
                    .condition_expression(expr)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }

    /// One operation on its own: the single-item API costs half a transaction.
    async fn write_one(&self, op: WriteOp) -> Result<(), StorageError> {
        let table = &self.spec.name;
        let result = match op {
            WriteOp::Put { item, condition } => {
                let mut ctx = ExpressionContext::default();
                let expr = condition.map(|c| c.to_expression(&mut ctx));
                self.client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(to_attributes(item)?))
                    .set_condition_expression(expr)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(single_write_err)
            }
            WriteOp::Update(update) => {
                let mut ctx = ExpressionContext::default();
                let (expr, condition) = update_expression(&update, &mut ctx)?;
                self.client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key_attributes(&update.key)))
                    .update_expression(expr)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(single_write_err)
            }
            WriteOp::Delete { key, condition } => {
                let mut ctx = ExpressionContext::default();
                let expr = condition.map(|c| c.to_expression(&mut ctx));
                self.client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(key_attributes(&key)))
                    .set_condition_expression(expr)
                    .set_expression_attribute_names(ctx.names())
                    .set_expression_attribute_values(ctx.values()?)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(single_write_err)
            }
            op @ WriteOp::ConditionCheck { .. } => return self.write_many(vec![op]).await,
        };
        result
    }

    async fn write_many(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        let items = ops.into_iter().map(|op| self.write_item(op)).collect::<Result<Vec<_>, _>>()?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(ex) = &service {
                    let reasons = ex.cancellation_reasons();
                    let failed: Vec<usize> = reasons.iter().enumerate().filter(|(_, r)| r.code() == Some("ConditionalCheckFailed")).map(|(i, _)| i).collect();
                    if !failed.is_empty() {
                        return Err(StorageError::ConditionFailed { failed });
                    }
                    if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                        return Err(StorageError::Conflict);
                    }
                }
                if service.code() == Some("TransactionConflictException") {
                    return Err(StorageError::Conflict);
                }
                if service.code() == Some("ValidationException") {
                    return Err(StorageError::Invalid(service.message().unwrap_or("validation failed").to_owned()));
                }
                Err(StorageError::Unavailable(DisplayErrorContext(&service).to_string()))
            }
        }
    }
}

#[async_trait]
impl Table for DynamoTable {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StorageError> {
        let out =
            self.client.get_item().table_name(&self.spec.name).set_key(Some(key_attributes(key))).consistent_read(true).send().await.map_err(unavailable)?;
        out.item.map(from_attributes).transpose()
    }

    async fn query(&self, q: &Query) -> Result<Page, StorageError> {
        let (pk_attr, sk_attr) = match &q.index {
            None => ("pk".to_string(), "sk".to_string()),
            Some(name) => {
                let index = self.spec.index(name).ok_or_else(|| StorageError::Invalid(format!("table {} has no index {name}", self.spec.name)))?;
                (index.pk.clone(), index.sk.clone())
            }
        };
        let mut ctx = ExpressionContext::default();
        let mut key_expr = format!("{} = {}", ctx.name(&pk_attr), ctx.value(&Value::String(q.partition.clone())));
        if let Some(sort) = &q.sort {
            let sk = ctx.name(&sk_attr);
            let mut v = |s: &str| ctx.value(&Value::String(s.to_owned()));
            let clause = match sort {
                SortKey::Equals(x) => format!("{sk} = {}", v(x)),
                SortKey::BeginsWith(x) => format!("begins_with({sk}, {})", v(x)),
                SortKey::Between(lo, hi) => {
                    let lo = v(lo);
                    format!("{sk} BETWEEN {lo} AND {}", v(hi))
                }
                SortKey::LessThan(x) => format!("{sk} < {}", v(x)),
                SortKey::LessOrEqual(x) => format!("{sk} <= {}", v(x)),
                SortKey::GreaterThan(x) => format!("{sk} > {}", v(x)),
                SortKey::GreaterOrEqual(x) => format!("{sk} >= {}", v(x)),
            };
            key_expr = format!("{key_expr} AND {clause}");
        }
        let start = match &q.cursor {
            None => None,
            Some(cursor) => {
                let last = cursor.decode()?;
                let mut key = key_attributes(&Key::new(&last.pk, &last.sk));
                if q.index.is_some() {
                    let (ipk, isk) = last.ipk.zip(last.isk).ok_or_else(|| StorageError::Invalid("cursor is not valid for this index".into()))?;
                    key.insert(pk_attr.clone(), AttributeValue::S(ipk));
                    key.insert(sk_attr.clone(), AttributeValue::S(isk));
                }
                Some(key)
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.spec.name)
            .set_index_name(q.index.clone())
            .key_condition_expression(key_expr)
            .set_expression_attribute_names(ctx.names())
            .set_expression_attribute_values(ctx.values()?)
            .scan_index_forward(q.ascending)
            .limit(q.limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("ValidationException") => StorageError::Invalid(e.message().unwrap_or("invalid query").to_owned()),
                _ => unavailable(e),
            })?;
        let next = out.last_evaluated_key.map(|key| {
            let s = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let indexed = q.index.is_some();
            Cursor::encode(&LastKey { pk: s("pk"), sk: s("sk"), ipk: indexed.then(|| s(&pk_attr)), isk: indexed.then(|| s(&sk_attr)) })
        });
        Ok(Page { items: out.items.unwrap_or_default().into_iter().map(from_attributes).collect::<Result<_, _>>()?, next })
    }

    async fn write(&self, mut ops: Vec<WriteOp>) -> Result<(), StorageError> {
        validate_write(&ops)?;
        if ops.len() == 1 {
            if let Some(op) = ops.pop() {
                return self.write_one(op).await;
            }
        }
        self.write_many(ops).await
    }

    /// `BatchGetItem`, 100 keys a request, strongly consistent; what DynamoDB leaves unprocessed
    /// (throttling) is asked again, a bounded number of times.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StorageError> {
        let table = &self.spec.name;
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending =
                KeysAndAttributes::builder().set_keys(Some(chunk.iter().map(key_attributes).collect())).consistent_read(true).build().map_err(invalid)?;
            for attempt in 0.. {
                let out = self.client.batch_get_item().request_items(table, pending.clone()).send().await.map_err(unavailable)?;
                for attrs in out.responses.and_then(|mut r| r.remove(table)).unwrap_or_default() {
                    let item = from_attributes(attrs)?;
                    let key = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                    found.insert((key("pk"), key("sk")), item);
                }
                match out.unprocessed_keys.and_then(|mut u| u.remove(table)).filter(|k| !k.keys().is_empty()) {
                    None => break,
                    Some(_) if attempt >= 5 => {
                        return Err(StorageError::Unavailable(format!("table {table}: BatchGetItem left keys unprocessed after {attempt} retries")))
                    }
                    Some(rest) => {
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                        pending = rest;
                    }
                }
            }
        }
        Ok(keys.iter().map(|k| found.remove(&(k.pk.clone(), k.sk.clone()))).collect())
    }

    /// `BatchWriteItem` of deletes, 25 a request; unprocessed ones are sent again, a bounded
    /// number of times.
    async fn delete_each(&self, keys: Vec<Key>) -> Result<(), StorageError> {
        let table = &self.spec.name;
        for chunk in keys.chunks(25) {
            let mut pending = chunk
                .iter()
                .map(|k| DeleteRequest::builder().set_key(Some(key_attributes(k))).build().map(|d| WriteRequest::builder().delete_request(d).build()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            for attempt in 0.. {
                let out = self.client.batch_write_item().request_items(table, pending).send().await.map_err(unavailable)?;
                match out.unprocessed_items.and_then(|mut u| u.remove(table)).filter(|r| !r.is_empty()) {
                    None => break,
                    Some(_) if attempt >= 5 => {
                        return Err(StorageError::Unavailable(format!("table {table}: BatchWriteItem left deletes unprocessed after {attempt} retries")))
                    }
                    Some(rest) => {
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                        pending = rest;
                    }
                }
            }
        }
        Ok(())
    }

    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        let Some(reader) = &self.stream_reader else {
            return Err(StorageError::Invalid(format!(
                "table {}: this process reads no change stream (on AWS, Lambda's event source mapping does; bnb-local and tests attach bnb-aws-dynamodb-streams)",
                self.spec.name
            )));
        };
        reader.read(self.stream_arn().await?, from, limit).await
    }
}

fn update_expression(update: &Update, ctx: &mut ExpressionContext) -> Result<(String, Option<String>), StorageError> {
    let mut clauses = Vec::new();
    if !update.set.is_empty() {
        let parts: Vec<String> = update.set.iter().map(|(a, v)| format!("{} = {}", ctx.name(a), ctx.value(v))).collect();
        clauses.push(format!("SET {}", parts.join(", ")));
    }
    if !update.add.is_empty() {
        let parts: Vec<String> = update.add.iter().map(|(a, by)| format!("{} {}", ctx.name(a), ctx.value(&Value::from(*by)))).collect();
        clauses.push(format!("ADD {}", parts.join(", ")));
    }
    if !update.remove.is_empty() {
        let parts: Vec<String> = update.remove.iter().map(|a| ctx.name(a)).collect();
        clauses.push(format!("REMOVE {}", parts.join(", ")));
    }
    if clauses.is_empty() {
        return Err(StorageError::Invalid("an update must set, add or remove something".into()));
    }
    let condition = update.condition.as_ref().map(|c: &Condition| c.to_expression(ctx));
    Ok((clauses.join(" "), condition))
}

/// The placeholders an expression context collected, as the SDK takes them.
trait Placeholders {
    fn names(&self) -> Option<HashMap<String, String>>;
    fn values(&self) -> Result<Option<HashMap<String, AttributeValue>>, StorageError>;
}

impl Placeholders for ExpressionContext {
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().cloned().collect())
    }
    fn values(&self) -> Result<Option<HashMap<String, AttributeValue>>, StorageError> {
        if self.values.is_empty() {
            return Ok(None);
        }
        self.values.iter().map(|(k, v)| Ok((k.clone(), to_sdk(serde_dynamo::to_attribute_value(v).map_err(convert_err)?)))).collect::<Result<_, _>>().map(Some)
    }
}

fn build_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Invalid(format!("could not build the DynamoDB request: {e}"))
}

fn invalid(e: impl std::fmt::Display) -> StorageError {
    StorageError::Invalid(e.to_string())
}

fn unavailable<E: std::error::Error + 'static>(e: E) -> StorageError {
    StorageError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn single_write_err<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some("ConditionalCheckFailedException") => StorageError::ConditionFailed { failed: vec![0] },
        Some("ValidationException") => StorageError::Invalid(e.message().unwrap_or("validation failed").to_owned()),
        _ => StorageError::Unavailable(DisplayErrorContext(&e).to_string()),
    }
}

fn key_attributes(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), AttributeValue::S(key.pk.clone())), ("sk".to_string(), AttributeValue::S(key.sk.clone()))])
}

/// An item as DynamoDB attributes, by serde_dynamo: strings `S`, numbers `N`, booleans, null,
/// lists `L`, maps `M`.
pub fn to_attributes(item: Item) -> Result<HashMap<String, AttributeValue>, StorageError> {
    let item: serde_dynamo::Item = serde_dynamo::to_item(item).map_err(convert_err)?;
    Ok(HashMap::from(item).into_iter().map(|(k, v)| (k, to_sdk(v))).collect())
}

/// DynamoDB attributes as an item, by serde_dynamo (numbers read back as integers when they are).
pub fn from_attributes(attrs: HashMap<String, AttributeValue>) -> Result<Item, StorageError> {
    let item: HashMap<String, serde_dynamo::AttributeValue> = attrs.into_iter().map(|(k, v)| (k, from_sdk(v))).collect();
    serde_dynamo::from_item(item).map_err(convert_err)
}

/// serde_dynamo's attribute value and an SDK's: two enums of one shape, mapped variant by
/// variant. (serde_dynamo's own SDK features would do it, but `aws_lambda_events` links
/// serde_dynamo into every function and Cargo unifies features across the workspace: the
/// feature would link the DynamoDB SDK into functions that never call DynamoDB.)
#[macro_export]
#[doc(hidden)]
macro_rules! sdk_attribute_conversions {
    ($to:ident, $from:ident, $attr:ty, $blob:ty) => {
        #[allow(dead_code)]
        fn $to(value: serde_dynamo::AttributeValue) -> $attr {
            use serde_dynamo::AttributeValue as D;
            use $attr as A;
            match value {
                D::N(n) => A::N(n),
                D::S(s) => A::S(s),
                D::Bool(b) => A::Bool(b),
                D::B(b) => A::B(<$blob>::new(b)),
                D::Null(n) => A::Null(n),
                D::M(m) => A::M(m.into_iter().map(|(k, v)| (k, $to(v))).collect()),
                D::L(l) => A::L(l.into_iter().map($to).collect()),
                D::Ss(ss) => A::Ss(ss),
                D::Ns(ns) => A::Ns(ns),
                D::Bs(bs) => A::Bs(bs.into_iter().map(<$blob>::new).collect()),
            }
        }

        #[allow(dead_code)]
        fn $from(value: $attr) -> serde_dynamo::AttributeValue {
            use serde_dynamo::AttributeValue as D;
            use $attr as A;
            match value {
                A::N(n) => D::N(n),
                A::S(s) => D::S(s),
                A::Bool(b) => D::Bool(b),
                A::B(b) => D::B(b.into_inner()),
                A::Null(n) => D::Null(n),
                A::M(m) => D::M(m.into_iter().map(|(k, v)| (k, $from(v))).collect()),
                A::L(l) => D::L(l.into_iter().map($from).collect()),
                A::Ss(ss) => D::Ss(ss),
                A::Ns(ns) => D::Ns(ns),
                A::Bs(bs) => D::Bs(bs.into_iter().map(|b| b.into_inner()).collect()),
                // A type this SDK version does not know: nothing bnb writes.
                _ => D::Null(true),
            }
        }
    };
}

sdk_attribute_conversions!(to_sdk, from_sdk, aws_sdk_dynamodb::types::AttributeValue, aws_sdk_dynamodb::primitives::Blob);

fn convert_err(e: serde_dynamo::Error) -> StorageError {
    StorageError::Invalid(format!("item does not convert to or from DynamoDB attributes: {e}"))
}

/// The table port on DynamoDB, as a function's main hands it to `bnb_lambda::AwsAdapters`: one
/// client (one connection pool) for every table the function opens.
pub fn tables(config: &aws_config::SdkConfig) -> Box<dyn Fn(TableSpec) -> Arc<dyn Table> + Send + Sync> {
    let client = aws_sdk_dynamodb::Client::new(config);
    Box::new(move |spec| Arc::new(DynamoTable::with_client(client.clone(), spec)))
}
