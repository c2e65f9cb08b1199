//! One conformance suite for the table port, run against the embedded SQLite adapter and the
//! DynamoDB adapter (on moto, over the AWS wire protocol), so the two cannot drift.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use bnb_contexts::storage::{ChangeKind, Condition, Item, Key, Query, SortKey, StorageError, StreamPosition, Table, TableSpec, Update, WriteOp};
use serde_json::{json, Value};

fn spec() -> TableSpec {
    TableSpec::new("conformance").with_index("gsi1")
}

fn item(v: Value) -> Item {
    v.as_object().cloned().expect("object")
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

async fn put(t: &dyn Table, v: Value) {
    t.write(vec![WriteOp::put(item(v))]).await.expect("put");
}

async fn all_pages(t: &dyn Table, q: Query) -> Vec<Item> {
    let mut out = Vec::new();
    let mut query = q;
    for _ in 0..100 {
        let page = t.query(&query).await.expect("query");
        out.extend(page.items);
        match page.next {
            Some(cursor) => query = query.after(Some(cursor)),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i["sk"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn get_put_and_round_trip(t: Arc<dyn Table>) {
    assert_eq!(t.get(&key("A", "1")).await.unwrap(), None);
    let original = json!({
        "pk": "A", "sk": "1", "text": "안녕 hello", "int": 42, "negative": -7, "big": 9_007_199_254_740_993i64,
        "float": 1.5, "yes": true, "nothing": null, "list": [1, "two", {"three": 3}], "map": {"nested": {"deep": "x"}}
    });
    put(t.as_ref(), original.clone()).await;
    assert_eq!(t.get(&key("A", "1")).await.unwrap(), Some(item(original)));
}

async fn conditional_put(t: Arc<dyn Table>) {
    let first = item(json!({"pk": "P", "sk": "1", "owner": "first"}));
    let second = item(json!({"pk": "P", "sk": "1", "owner": "second"}));
    t.write(vec![WriteOp::put_if(first, Condition::NotExists)]).await.unwrap();
    let err = t.write(vec![WriteOp::put_if(second.clone(), Condition::NotExists)]).await.unwrap_err();
    assert_eq!(err, StorageError::ConditionFailed { failed: vec![0] });
    assert_eq!(t.get(&key("P", "1")).await.unwrap().unwrap()["owner"], "first");
    // A condition on an attribute: replace only the version we read.
    let v2 = item(json!({"pk": "P", "sk": "1", "owner": "second", "version": 2}));
    let err = t.write(vec![WriteOp::put_if(v2.clone(), Condition::equals("version", 1))]).await.unwrap_err();
    assert!(err.condition_failed_at(0));
    t.write(vec![WriteOp::put_if(v2, Condition::Exists.and(Condition::AttributeNotExists("version".into())))]).await.unwrap();
    assert_eq!(t.get(&key("P", "1")).await.unwrap().unwrap()["version"], 2);
}

async fn conditional_update(t: Arc<dyn Table>) {
    // An update creates a missing item, as DynamoDB's UpdateItem does.
    t.write(vec![Update::new(key("U", "1")).set("version", 1).set("status", "ACTIVE").add("count", 5).into_op()]).await.unwrap();
    let got = t.get(&key("U", "1")).await.unwrap().unwrap();
    assert_eq!((got["version"].clone(), got["count"].clone()), (json!(1), json!(5)));
    let bump = || Update::new(key("U", "1")).set("version", 2).add("count", -2).remove("status").when(Condition::equals("version", 1)).into_op();
    t.write(vec![bump()]).await.unwrap();
    assert_eq!(t.write(vec![bump()]).await.unwrap_err(), StorageError::ConditionFailed { failed: vec![0] });
    let got = t.get(&key("U", "1")).await.unwrap().unwrap();
    assert_eq!(got, item(json!({"pk": "U", "sk": "1", "version": 2, "count": 3})));
    // Order-tolerant projections: apply only what is newer than what is held.
    let newer_than = |v: i64| Update::new(key("U", "1")).set("version", v).when(Condition::NotExists.or(Condition::less_than("version", v))).into_op();
    assert!(t.write(vec![newer_than(1)]).await.unwrap_err().condition_failed_at(0));
    t.write(vec![newer_than(5)]).await.unwrap();
    // A conditional update of a missing item fails when the condition needs the item.
    assert!(t.write(vec![Update::new(key("U", "missing")).set("a", 1).when(Condition::Exists).into_op()]).await.unwrap_err().condition_failed_at(0));
    assert_eq!(t.get(&key("U", "missing")).await.unwrap(), None);
}

async fn conditional_delete(t: Arc<dyn Table>) {
    put(t.as_ref(), json!({"pk": "D", "sk": "1", "status": "ACTIVE"})).await;
    let err = t.write(vec![WriteOp::delete_if(key("D", "1"), Condition::equals("status", "DELETED"))]).await.unwrap_err();
    assert!(err.condition_failed_at(0));
    assert!(t.get(&key("D", "1")).await.unwrap().is_some());
    t.write(vec![WriteOp::delete_if(key("D", "1"), Condition::equals("status", "ACTIVE"))]).await.unwrap();
    assert_eq!(t.get(&key("D", "1")).await.unwrap(), None);
    // Deleting what is not there is not an error, unless a condition says it must exist.
    t.write(vec![WriteOp::delete(key("D", "1"))]).await.unwrap();
    assert!(t.write(vec![WriteOp::delete_if(key("D", "1"), Condition::Exists)]).await.unwrap_err().condition_failed_at(0));
}

async fn transactions_are_all_or_nothing(t: Arc<dyn Table>) {
    put(t.as_ref(), json!({"pk": "T", "sk": "taken"})).await;
    put(t.as_ref(), json!({"pk": "T", "sk": "counter", "n": 1})).await;
    put(t.as_ref(), json!({"pk": "T", "sk": "guard", "open": false})).await;
    let ops = || {
        vec![
            WriteOp::put(item(json!({"pk": "T", "sk": "new"}))),
            WriteOp::put_if(item(json!({"pk": "T", "sk": "taken", "by": "me"})), Condition::NotExists),
            Update::new(key("T", "counter")).add("n", 1).into_op(),
            WriteOp::check(key("T", "guard"), Condition::equals("open", true)),
        ]
    };
    let err = t.write(ops()).await.unwrap_err();
    assert_eq!(err, StorageError::ConditionFailed { failed: vec![1, 3] }, "names every failed condition");
    assert_eq!(t.get(&key("T", "new")).await.unwrap(), None, "nothing written");
    assert_eq!(t.get(&key("T", "counter")).await.unwrap().unwrap()["n"], 1);
    assert!(t.get(&key("T", "taken")).await.unwrap().unwrap().get("by").is_none());
    // Once the conditions hold, every operation applies.
    t.write(vec![WriteOp::delete(key("T", "taken")), Update::new(key("T", "guard")).set("open", true).into_op()]).await.unwrap();
    t.write(ops()).await.unwrap();
    assert!(t.get(&key("T", "new")).await.unwrap().is_some());
    assert_eq!(t.get(&key("T", "counter")).await.unwrap().unwrap()["n"], 2);
    assert_eq!(t.get(&key("T", "taken")).await.unwrap().unwrap()["by"], "me");
}

async fn invalid_writes_are_refused(t: Arc<dyn Table>) {
    let dup = vec![WriteOp::put(item(json!({"pk": "I", "sk": "1"}))), WriteOp::delete(key("I", "1"))];
    assert!(matches!(t.write(dup).await, Err(StorageError::Invalid(_))));
    let many: Vec<WriteOp> = (0..101).map(|i| WriteOp::put(item(json!({"pk": "I", "sk": format!("{i}")})))).collect();
    assert!(matches!(t.write(many).await, Err(StorageError::Invalid(_))));
    let huge = item(json!({"pk": "I", "sk": "huge", "blob": "x".repeat(401 * 1024)}));
    assert!(matches!(t.write(vec![WriteOp::put(huge)]).await, Err(StorageError::Invalid(_))));
    assert!(matches!(t.write(vec![WriteOp::put(item(json!({"pk": "I"})))]).await, Err(StorageError::Invalid(_))));
    assert!(matches!(t.write(vec![]).await, Err(StorageError::Invalid(_))));
    assert_eq!(all_pages(t.as_ref(), Query::partition("I")).await.len(), 0, "nothing written");
    // A full transaction of 100 operations is fine.
    let hundred: Vec<WriteOp> = (0..100).map(|i| WriteOp::put(item(json!({"pk": "I", "sk": format!("{i:03}")})))).collect();
    t.write(hundred).await.unwrap();
    assert_eq!(all_pages(t.as_ref(), Query::partition("I").limit(1000)).await.len(), 100);
}

async fn sort_key_conditions(t: Arc<dyn Table>) {
    for sk in ["a#1", "a#2", "a#3", "b#1", "a#10", "ab"] {
        put(t.as_ref(), json!({"pk": "S", "sk": sk})).await;
    }
    put(t.as_ref(), json!({"pk": "other", "sk": "a#1"})).await;
    let q = |s: SortKey| Query::partition("S").sort(s);
    assert_eq!(sks(&all_pages(t.as_ref(), Query::partition("S")).await), ["a#1", "a#10", "a#2", "a#3", "ab", "b#1"]);
    assert_eq!(sks(&all_pages(t.as_ref(), q(SortKey::BeginsWith("a#".into()))).await), ["a#1", "a#10", "a#2", "a#3"]);
    assert_eq!(sks(&all_pages(t.as_ref(), q(SortKey::Between("a#2".into(), "ab".into()))).await), ["a#2", "a#3", "ab"]);
    assert_eq!(sks(&all_pages(t.as_ref(), q(SortKey::GreaterThan("a#3".into()))).await), ["ab", "b#1"]);
    assert_eq!(sks(&all_pages(t.as_ref(), q(SortKey::LessOrEqual("a#10".into()))).await), ["a#1", "a#10"]);
    assert_eq!(sks(&all_pages(t.as_ref(), q(SortKey::Equals("ab".into()))).await), ["ab"]);
    assert_eq!(sks(&all_pages(t.as_ref(), q(SortKey::BeginsWith("a#".into())).descending()).await), ["a#3", "a#2", "a#10", "a#1"]);
}

async fn sparse_index_queries(t: Arc<dyn Table>) {
    for (sk, city, at) in [("r1", Some("seoul"), "2"), ("r2", Some("seoul"), "1"), ("r3", Some("busan"), "1"), ("r4", None, "1")] {
        let mut v = json!({"pk": format!("ROOM#{sk}"), "sk": "ROOM", "name": sk});
        if let Some(city) = city {
            v["gsi1pk"] = json!(format!("CITY#{city}"));
            v["gsi1sk"] = json!(at);
        }
        put(t.as_ref(), v).await;
    }
    let names = |items: Vec<Item>| items.iter().map(|i| i["name"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(all_pages(t.as_ref(), Query::on_index("gsi1", "CITY#seoul")).await), ["r2", "r1"]);
    assert_eq!(names(all_pages(t.as_ref(), Query::on_index("gsi1", "CITY#seoul").descending()).await), ["r1", "r2"]);
    assert_eq!(names(all_pages(t.as_ref(), Query::on_index("gsi1", "CITY#seoul").sort(SortKey::GreaterThan("1".into()))).await), ["r1"]);
    // Taking the index attributes away takes the item out of the index.
    t.write(vec![Update::new(key("ROOM#r1", "ROOM")).remove("gsi1pk").remove("gsi1sk").into_op()]).await.unwrap();
    assert_eq!(names(all_pages(t.as_ref(), Query::on_index("gsi1", "CITY#seoul")).await), ["r2"]);
    assert!(matches!(t.query(&Query::on_index("nope", "x")).await, Err(StorageError::Invalid(_))));
}

async fn paging_by_cursor(t: Arc<dyn Table>) {
    let writes: Vec<WriteOp> =
        (0..25).map(|i| WriteOp::put(item(json!({"pk": "PG", "sk": format!("{i:02}"), "gsi1pk": "ALL", "gsi1sk": format!("{:02}", 24 - i)})))).collect();
    t.write(writes).await.unwrap();
    for ascending in [true, false] {
        let mut query = Query::partition("PG").limit(10);
        if !ascending {
            query = query.descending();
        }
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = t.query(&query).await.unwrap();
            assert!(page.items.len() <= 10);
            pages += 1;
            seen.extend(sks(&page.items));
            match page.next {
                Some(c) => query = query.after(Some(c)),
                None => break,
            }
            assert!(pages < 10);
        }
        let mut expected: Vec<String> = (0..25).map(|i| format!("{i:02}")).collect();
        if !ascending {
            expected.reverse();
        }
        assert_eq!(seen, expected);
    }
    let by_index = all_pages(t.as_ref(), Query::on_index("gsi1", "ALL").limit(7)).await;
    let expected: Vec<String> = (0..25).rev().map(|i| format!("{i:02}")).collect();
    assert_eq!(sks(&by_index), expected);
    assert!(matches!(bnb_contexts::storage::cursor::Cursor::parse("not a cursor"), Err(StorageError::Invalid(_))));
}

async fn stream_reports_changes_in_order(t: Arc<dyn Table>) {
    put(t.as_ref(), json!({"pk": "ST", "sk": "1", "v": 1})).await;
    t.write(vec![Update::new(key("ST", "1")).set("v", 2).into_op()]).await.unwrap();
    t.write(vec![WriteOp::delete(key("ST", "1"))]).await.unwrap();
    t.write(vec![WriteOp::put(item(json!({"pk": "ST", "sk": "2"}))), WriteOp::put(item(json!({"pk": "ST", "sk": "3"})))]).await.unwrap();
    // A failed transaction leaves no record.
    let _ = t
        .write(vec![WriteOp::put(item(json!({"pk": "ST", "sk": "4"}))), WriteOp::put_if(item(json!({"pk": "ST", "sk": "2"})), Condition::NotExists)])
        .await
        .unwrap_err();
    let batch = t.read_stream(&StreamPosition::start(), 100).await.unwrap();
    let kinds: Vec<(ChangeKind, String)> = batch.records.iter().map(|r| (r.kind, r.keys.sk.clone())).collect();
    assert_eq!(kinds[..3], [(ChangeKind::Insert, "1".into()), (ChangeKind::Modify, "1".into()), (ChangeKind::Remove, "1".into())]);
    let rest: BTreeSet<String> = kinds[3..].iter().map(|(k, sk)| format!("{}:{sk}", k.as_str())).collect();
    assert_eq!(rest, BTreeSet::from(["INSERT:2".to_string(), "INSERT:3".to_string()]));
    let r = &batch.records;
    assert_eq!(r[0].old_image, None);
    assert_eq!(r[0].new_image.as_ref().map(|i| i["v"].clone()), Some(json!(1)));
    assert_eq!(r[1].old_image.as_ref().map(|i| i["v"].clone()), Some(json!(1)));
    assert_eq!(r[1].new_image.as_ref().map(|i| i["v"].clone()), Some(json!(2)));
    assert_eq!(r[2].old_image.as_ref().map(|i| i["v"].clone()), Some(json!(2)));
    assert_eq!(r[2].new_image, None);
    for pair in r.windows(2) {
        assert!(pair[0].sequence() < pair[1].sequence(), "sequence numbers increase");
    }
}

async fn stream_resumes_from_a_position(t: Arc<dyn Table>) {
    for i in 0..5 {
        put(t.as_ref(), json!({"pk": "R", "sk": format!("{i}")})).await;
    }
    let first = t.read_stream(&StreamPosition::start(), 2).await.unwrap();
    assert_eq!(sks_of(&first.records), ["0", "1"]);
    let second = t.read_stream(&first.next, 100).await.unwrap();
    assert_eq!(sks_of(&second.records), ["2", "3", "4"]);
    let empty = t.read_stream(&second.next, 100).await.unwrap();
    assert!(empty.records.is_empty());
    assert_eq!(empty.next, second.next, "an empty read keeps the position");
    put(t.as_ref(), json!({"pk": "R", "sk": "5"})).await;
    assert_eq!(sks_of(&t.read_stream(&second.next, 100).await.unwrap().records), ["5"]);
    // The position is durable text: a new reader resumes from it.
    let saved = serde_json::to_string(&second.next).unwrap();
    let restored: StreamPosition = serde_json::from_str(&saved).unwrap();
    assert_eq!(sks_of(&t.read_stream(&restored, 100).await.unwrap().records), ["5"]);
    assert_eq!(t.read_stream(&StreamPosition::start(), 100).await.unwrap().records.len(), 6);
}

fn sks_of(records: &[bnb_contexts::storage::StreamRecord]) -> Vec<String> {
    records.iter().map(|r| r.keys.sk.clone()).collect()
}

async fn racing_conditional_puts_have_one_winner(t: Arc<dyn Table>) {
    const RACERS: usize = 24;
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let claim = item(json!({"pk": "NIGHT#room#2026-12-01", "sk": "LOCK", "owner": i}));
            (i, t.write(vec![WriteOp::put_if(claim, Condition::NotExists)]).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        match result {
            Ok(()) => winners.push(i),
            Err(e) => assert!(e.condition_failed_at(0), "a loser sees a failed condition, not {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let stored = t.get(&key("NIGHT#room#2026-12-01", "LOCK")).await.unwrap().unwrap();
    assert_eq!(stored["owner"], json!(winners[0]));
}

/// `get_many` answers each key in order, `None` for a missing one, past one request's 100 keys;
/// `delete_each` removes every key given (past one request's 25), and nothing else.
async fn batch_reads_and_deletes(t: Arc<dyn Table>) {
    for i in 0..130 {
        put(t.as_ref(), json!({"pk": "B", "sk": format!("S#{i:03}"), "n": i})).await;
    }
    let mut keys: Vec<Key> = (0..130).rev().map(|i| key("B", &format!("S#{i:03}"))).collect();
    keys.insert(7, key("B", "missing"));
    let got = t.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), 131);
    assert!(got[7].is_none(), "a missing key answers None in its place");
    let ns: Vec<i64> = got.iter().flatten().map(|i| i["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, (0..130).rev().collect::<Vec<i64>>(), "answers come in the order of the keys");

    let doomed: Vec<Key> = (0..60).map(|i| key("B", &format!("S#{i:03}"))).collect();
    t.delete_each(doomed).await.unwrap();
    let left = all_pages(t.as_ref(), Query::partition("B")).await;
    assert_eq!(sks(&left), (60..130).map(|i| format!("S#{i:03}")).collect::<Vec<_>>());
    // Deleting what is gone is no error.
    t.delete_each(vec![key("B", "S#000"), key("B", "missing")]).await.unwrap();
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (table, _dir) = super::support::embedded_table(super::spec());
                    super::$case(table).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let table = super::support::moto_table(super::spec()).await;
                    super::$case(table).await;
                }
            )*
        }
    };
}

conformance!(
    get_put_and_round_trip,
    conditional_put,
    conditional_update,
    conditional_delete,
    transactions_are_all_or_nothing,
    invalid_writes_are_refused,
    sort_key_conditions,
    sparse_index_queries,
    paging_by_cursor,
    stream_reports_changes_in_order,
    stream_resumes_from_a_position,
    racing_conditional_puts_have_one_winner,
    batch_reads_and_deletes,
);

#[test]
fn the_embedded_store_is_durable_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bnb.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = bnb_embedded::EmbeddedStore::open(&path).unwrap();
        let t = store.table(spec());
        put(&t, json!({"pk": "K", "sk": "1", "gsi1pk": "G", "gsi1sk": "1"})).await;
    });
    drop(runtime);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = bnb_embedded::EmbeddedStore::open(&path).unwrap();
        let t = store.table(spec());
        assert!(t.get(&key("K", "1")).await.unwrap().is_some());
        assert_eq!(all_pages(&t, Query::on_index("gsi1", "G")).await.len(), 1);
        assert_eq!(t.read_stream(&StreamPosition::start(), 10).await.unwrap().records.len(), 1);
    });
}
