//! What the workspace tests share: the moto endpoint, fresh tables on both adapters, and
//! requests shaped like API Gateway's.
#![allow(dead_code)]

use std::sync::Arc;

use bnb::storage::dynamodb::DynamoTable;
use bnb::storage::embedded::EmbeddedStore;
use bnb::storage::{Table, TableSpec};

/// The moto server the test command started. Without it the AWS half of the suite cannot run,
/// and it fails rather than skip.
pub fn moto_url() -> String {
    match std::env::var("BNB_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "BNB_TEST_MOTO_URL is not set: the AWS adapter tests need a moto server. \
             Run the suite with `scripts/test.sh`, which installs and starts one."
        ),
    }
}

/// A name no other test uses, so tests share one moto server and one machine safely.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A fresh embedded store in its own temporary folder (kept alive by the returned guard).
pub fn embedded_store() -> (EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path().join("bnb.db")).expect("open store");
    (store, dir)
}

/// A fresh table on the embedded store.
pub fn embedded_table(spec: TableSpec) -> (Arc<dyn Table>, tempfile::TempDir) {
    let (store, dir) = embedded_store();
    (Arc::new(store.table(spec)), dir)
}

/// A fresh table on moto, created with its indexes and stream.
pub async fn moto_table(mut spec: TableSpec) -> Arc<dyn Table> {
    spec.name = unique(&spec.name);
    let config = bnb::config::aws_sdk_config_for(&moto_url()).await;
    let table = DynamoTable::new(&config, spec);
    table.ensure_exists().await.expect("create table on moto");
    Arc::new(table)
}
