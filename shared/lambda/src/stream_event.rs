//! Between the table port's change stream and the DynamoDB Stream events Lambda delivers
//! (`aws_lambda_events`): the local runtime builds them from the embedded change log, and
//! `publish-events` reads them on AWS and locally alike.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use serde_json::{json, Map, Value};

use bnb_contexts::storage::{Item, StreamRecord};

/// A DynamoDB Stream event batch, exactly as Lambda hands it to a function.
pub fn stream_event(table: &str, stream_arn: &str, records: &[StreamRecord]) -> Result<Event, serde_json::Error> {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut change = Map::new();
            change.insert("ApproximateCreationDateTime".into(), json!(r.created_at));
            change.insert("Keys".into(), attributes(&r.keys.to_item()));
            if let Some(new) = &r.new_image {
                change.insert("NewImage".into(), attributes(new));
            }
            if let Some(old) = &r.old_image {
                change.insert("OldImage".into(), attributes(old));
            }
            change.insert("SequenceNumber".into(), json!(r.sequence_number));
            change.insert("SizeBytes".into(), json!(serde_json::to_vec(&r.new_image).map(|v| v.len()).unwrap_or(0)));
            change.insert("StreamViewType".into(), json!("NEW_AND_OLD_IMAGES"));
            json!({
                "eventID": format!("{table}-{}", r.sequence_number),
                "eventName": r.kind.as_str(),
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "local",
                "eventSourceARN": stream_arn,
                "dynamodb": Value::Object(change),
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records }))
}

/// The new image of a stream record as an item (`None` for a REMOVE or a keys-only stream).
pub fn new_image(record: &EventRecord) -> Option<Item> {
    image(&record.change.new_image)
}

pub fn old_image(record: &EventRecord) -> Option<Item> {
    image(&record.change.old_image)
}

fn image(item: &serde_dynamo::Item) -> Option<Item> {
    if item.is_empty() {
        return None;
    }
    match serde_dynamo::from_item::<_, Value>(item.clone()) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// An item in DynamoDB's JSON (`{"S": ...}`, `{"N": ...}`, ...).
pub fn attributes(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attribute(v))).collect())
}

fn attribute(value: &Value) -> Value {
    match value {
        Value::Null => json!({"NULL": true}),
        Value::Bool(b) => json!({"BOOL": b}),
        Value::Number(n) => json!({"N": n.to_string()}),
        Value::String(s) => json!({"S": s}),
        Value::Array(a) => json!({"L": a.iter().map(attribute).collect::<Vec<_>>()}),
        Value::Object(o) => {
            json!({"M": o.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<Map<_, _>>()})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bnb_contexts::storage::{ChangeKind, Key};

    #[test]
    fn records_round_trip_through_lambda_events() {
        let item: Item = json!({"pk": "OUTBOX#1", "sk": "OUTBOX", "n": 3, "f": 1.5, "b": true, "z": null, "l": [1, "a"], "m": {"x": "y"}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let record = StreamRecord {
            sequence_number: "42".into(),
            kind: ChangeKind::Insert,
            keys: Key::new("OUTBOX#1", "OUTBOX"),
            old_image: None,
            new_image: Some(item.clone()),
            created_at: 1_795_000_000,
            position: bnb_contexts::storage::StreamPosition("42".into()),
        };
        let event = stream_event("rooms", "arn:aws:dynamodb:local:0:table/rooms/stream/x", &[record]).unwrap();
        assert_eq!(event.records.len(), 1);
        let r = &event.records[0];
        assert_eq!(r.event_name, "INSERT");
        assert_eq!(r.change.sequence_number.as_deref(), Some("42"));
        assert_eq!(new_image(r), Some(item));
        assert_eq!(old_image(r), None);
    }
}
