//! `template.yaml`, read as AWS will read it: least privilege for every function, the payment
//! function out of the API's reach, and the production settings a deploy relies on.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The logical id a `!Ref X` (or `{Ref: X}`) names.
fn referenced(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_owned),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn is_tagged(v: &Value) -> bool {
    matches!(v, Value::Tagged(_))
}

fn functions(t: &Value) -> Vec<(String, String, Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned(), r["Properties"].clone()))
        .collect()
}

const OUTBOX_TABLES: [&str; 4] = ["RoomsTable", "ReservationsTable", "PaymentsTable", "ReviewsTable"];

/// The functions that may delete an item, and what they delete: each a key that stands for a
/// claim and must go when the claim ends. Nothing else deletes; the rest of history is kept.
const DELETERS: &[(&str, &str)] = &[
    ("place-reservation", "its idempotency claim, and the nights of a hold it aborts"),
    ("cancel-reservation", "the nights of the stay it cancels"),
    ("reservation-handler", "the nights of stays on a deleted room, and of a hold a payment declined"),
    ("expire-holds", "the nights of an expired hold, and its idempotency claim"),
    ("republish-outbox", "the outbox items it publishes"),
    ("check-deliveries", "the delivery checks it settles"),
];

/// Which tables each function may write, and which it may only read: each context writes its
/// own table (design.md §1); a few read another context's table (a request/response read).
fn ownership() -> BTreeMap<&'static str, (&'static [&'static str], &'static [&'static str])> {
    BTreeMap::from([
        ("register-room", (&["RoomsTable"][..], &[][..])),
        ("get-room", (&[][..], &["RoomsTable"][..])),
        ("modify-room", (&["RoomsTable"][..], &["RoomsTable"][..])),
        ("delete-room", (&["RoomsTable"][..], &["RoomsTable"][..])),
        ("search-rooms", (&[][..], &["RoomsTable"][..])),
        ("room-handler", (&["RoomsTable"][..], &[][..])),
        ("place-reservation", (&["ReservationsTable"][..], &["RoomsTable"][..])),
        ("cancel-reservation", (&["ReservationsTable"][..], &[][..])),
        ("reservation-handler", (&["ReservationsTable"][..], &[][..])),
        ("expire-holds", (&["ReservationsTable"][..], &[][..])),
        ("process-payment", (&["PaymentsTable"][..], &[][..])),
        ("payment-handler", (&["PaymentsTable"][..], &[][..])),
        ("view-projector", (&["ViewsTable"][..], &[][..])),
        ("reservation-status", (&[][..], &["ViewsTable"][..])),
        ("my-reservations", (&[][..], &["ViewsTable"][..])),
        ("host-dashboard", (&[][..], &["ViewsTable"][..])),
        ("notification-handler", (&["NotificationsTable"][..], &[][..])),
        ("my-notifications", (&[][..], &["NotificationsTable"][..])),
        ("update-profile", (&["NotificationsTable"][..], &[][..])),
        ("my-profile", (&[][..], &["NotificationsTable"][..])),
        ("write-review", (&["ReviewsTable"][..], &["RoomsTable", "ReservationsTable"][..])),
        ("list-reviews", (&[][..], &["ReviewsTable", "RoomsTable"][..])),
        // The outbox relay and its sweeper clear the outbox items of every table with one.
        ("publish-events", (&OUTBOX_TABLES[..], &[][..])),
        ("republish-outbox", (&OUTBOX_TABLES[..], &[][..])),
        ("alimtalk-sender", (&["NotificationsTable"][..], &[][..])),
        ("check-deliveries", (&["NotificationsTable"][..], &[][..])),
        ("become-host", (&[][..], &[][..])),
        ("enrol-guest", (&[][..], &[][..])),
    ])
}

#[test]
fn every_function_touches_only_its_own_tables_and_no_action_is_a_wildcard() {
    let t = template();
    let owners = ownership();
    for (id, binary, props) in functions(&t) {
        let (writes, reads) = owners.get(binary.as_str()).unwrap_or_else(|| panic!("{binary} has no entry in the ownership map"));
        for policy in props["Policies"].as_sequence().cloned().unwrap_or_default() {
            if let Value::String(managed) = &policy {
                panic!("{id} uses the managed policy {managed}: too broad");
            }
            for (name, args) in policy.as_mapping().unwrap() {
                let name = name.as_str().unwrap();
                match name {
                    // SAM's DynamoDB templates grant Scan (and Crud, DeleteItem): each function
                    // names the actions it takes instead.
                    "DynamoDBCrudPolicy" | "DynamoDBWritePolicy" | "DynamoDBReadPolicy" => {
                        panic!("{id} uses {name}, which grants dynamodb:Scan: name the actions it takes")
                    }
                    "SNSPublishMessagePolicy" | "SQSSendMessagePolicy" | "LambdaInvokePolicy" => {}
                    // One parameter, the dealer's secret key, by the template parameter naming it.
                    "SSMParameterReadPolicy" => {
                        assert_eq!(referenced(&args["ParameterName"]).as_deref(), Some("AlimTalkSecretKeyParameter"), "{id} may read another parameter");
                        assert!(["alimtalk-sender", "check-deliveries"].contains(&binary.as_str()), "{id} reads the dealer's secret key");
                    }
                    "Statement" => {
                        for statement in args.as_sequence().unwrap() {
                            let actions: Vec<String> = match &statement["Action"] {
                                Value::String(a) => vec![a.clone()],
                                Value::Sequence(list) => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
                                other => panic!("{id}: unexpected Action {other:?}"),
                            };
                            for action in &actions {
                                assert!(action != "*" && !action.ends_with(":*"), "{id} is granted {action}");
                            }
                            check_table_grant(&t, &id, &binary, writes, reads, &actions, &statement["Resource"]);
                        }
                    }
                    other => panic!("{id} uses policy {other}, which this check does not know: add it here, scoped"),
                }
            }
        }
    }
}

/// A DynamoDB grant: no Scan on any request path (or anywhere), DeleteItem only for the
/// functions in [`DELETERS`], writes only to the function's own tables, reads to the tables it
/// reads, and only indexes the table has.
fn check_table_grant(t: &Value, id: &str, binary: &str, writes: &[&str], reads: &[&str], actions: &[String], resource: &Value) {
    let dynamodb: Vec<&str> = actions.iter().filter_map(|a| a.strip_prefix("dynamodb:")).collect();
    if dynamodb.is_empty() {
        return;
    }
    let resources = match resource {
        Value::Sequence(list) => list.clone(),
        other => vec![other.clone()],
    };
    for action in &dynamodb {
        assert!(!["Scan", "PartiQLSelect"].contains(action), "{id} is granted dynamodb:{action}: every access is a key lookup or an index query");
        if *action == "DeleteItem" {
            assert!(DELETERS.iter().any(|(f, _)| *f == binary), "{id} is granted dynamodb:DeleteItem but deletes nothing");
        }
    }
    let writing = dynamodb.iter().any(|a| ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "ConditionCheckItem"].contains(a));
    for resource in resources {
        // `!GetAtt X.Arn` or `!Sub "${X.Arn}/index/NAME"`.
        let (table, index) = match &resource {
            Value::Tagged(tagged) if tagged.tag == "GetAtt" => (tagged.value.as_str().and_then(|v| v.strip_suffix(".Arn")).map(str::to_owned), None),
            Value::Tagged(tagged) if tagged.tag == "Sub" => {
                let text = tagged.value.as_str().unwrap_or_default();
                let (table, index) = text.strip_prefix("${").and_then(|r| r.split_once(".Arn}/index/")).unwrap_or_else(|| panic!("{id}: resource {text}"));
                (Some(table.to_owned()), Some(index.to_owned()))
            }
            other => panic!("{id}: a DynamoDB resource that is not a table or index of this stack: {other:?}"),
        };
        let table = table.unwrap_or_else(|| panic!("{id}: {resource:?}"));
        if writing {
            assert!(writes.contains(&table.as_str()), "{id} may write {table}, another context's table");
        } else {
            assert!(writes.contains(&table.as_str()) || reads.contains(&table.as_str()), "{id} may read {table}");
        }
        if let Some(index) = index {
            let declared = t["Resources"][table.as_str()]["Properties"]["GlobalSecondaryIndexes"]
                .as_sequence()
                .is_some_and(|l| l.iter().any(|i| i["IndexName"].as_str() == Some(index.as_str())));
            assert!(declared, "{id} is granted the index {index}, which {table} does not have");
            assert!(dynamodb.iter().all(|a| *a == "Query"), "{id}: only Query reads an index");
        }
    }
}

#[test]
fn only_place_reservation_may_invoke_the_payment_function_and_the_api_cannot() {
    let t = template();
    let mut invokers = BTreeSet::new();
    for (id, binary, props) in functions(&t) {
        for policy in props["Policies"].as_sequence().cloned().unwrap_or_default() {
            if let Some(args) = policy.get("LambdaInvokePolicy") {
                assert_eq!(referenced(&args["FunctionName"]).as_deref(), Some("ProcessPaymentFunction"));
                invokers.insert(binary.clone());
            }
        }
        if binary == "process-payment" {
            assert!(props.get("Events").is_none(), "{id} has no trigger: no route reaches it");
            assert_eq!(
                referenced(&props["ReservedConcurrentExecutions"]).as_deref(),
                Some("PaymentConcurrency"),
                "payment has reserved concurrency (a bulkhead)"
            );
        }
    }
    assert_eq!(invokers, BTreeSet::from(["place-reservation".to_string()]));
}

#[test]
fn deploys_are_production_minded() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Tracing"].as_str(), Some("Active"));
    assert_eq!(globals["AutoPublishAlias"].as_str(), Some("live"));
    assert!(is_tagged(&globals["DeploymentPreference"]["Type"]) || globals["DeploymentPreference"]["Type"].is_string());
    let resources = t["Resources"].as_mapping().unwrap();
    for (id, binary, _props) in functions(&t) {
        assert_eq!(resources[&Value::String(id.clone())]["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{id}");
        let group = &resources[&Value::String(format!("{id}LogGroup"))]["Properties"];
        assert!(
            matches!(&group["LogGroupName"], Value::Tagged(t) if t.value.as_str() == Some(&format!("/aws/lambda/${{{id}}}"))),
            "{binary}: a log group of its own"
        );
        assert!(is_tagged(&group["RetentionInDays"]), "{binary}: retention");
    }
    for (id, r) in resources {
        let id = id.as_str().unwrap();
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::DynamoDB::Table" => {
                assert_eq!(r["Properties"]["BillingMode"].as_str(), Some("PAY_PER_REQUEST"), "{id}");
                assert_eq!(r["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true), "{id}");
                assert_eq!(r["Properties"]["TimeToLiveSpecification"]["AttributeName"].as_str(), Some("expiresAt"), "{id}");
            }
            "AWS::SQS::Queue" if !id.ends_with("DLQ") => {
                let dlq = &r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"];
                assert!(is_tagged(dlq), "{id} has a DLQ");
                assert_eq!(r["Properties"]["RedrivePolicy"]["maxReceiveCount"].as_u64(), Some(5), "{id}");
            }
            "AWS::SQS::Queue" => {
                assert!(resources.contains_key(Value::String(format!("{id}DepthAlarm"))), "{id} has a depth alarm");
            }
            _ => {}
        }
    }
    assert!(resources.contains_key(Value::String("PaymentErrorsAlarm".into())));
}

/// What keeps bnb's data and people's attention: tables outlive the stack, every alarm tells
/// someone, and the schedule's dead letters have somewhere to go.
#[test]
fn tables_are_kept_alarms_act_and_dead_letters_can_land() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let of_type = |kind: &'static str| -> Vec<(String, Value)> {
        resources.iter().filter(|(_, r)| r["Type"].as_str() == Some(kind)).map(|(id, r)| (id.as_str().unwrap().to_owned(), r.clone())).collect()
    };
    let tables = of_type("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 6);
    for (id, table) in tables {
        assert_eq!(
            (table["DeletionPolicy"].as_str(), table["UpdateReplacePolicy"].as_str()),
            (Some("Retain"), Some("Retain")),
            "{id}: deleting the stack would delete it"
        );
    }
    let alarms = of_type("AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 10);
    for (id, alarm) in alarms {
        let actions = alarm["Properties"]["AlarmActions"].as_sequence().unwrap_or_else(|| panic!("{id} tells no one"));
        assert!(actions.iter().any(|a| referenced(a).as_deref() == Some("OpsTopic")), "{id} does not notify the ops topic");
    }
    let (_, policy) = of_type("AWS::SQS::QueuePolicy")
        .into_iter()
        .find(|(_, p)| p["Properties"]["Queues"].as_sequence().is_some_and(|q| q.iter().any(|q| referenced(q).as_deref() == Some("ExpireHoldsDLQ"))))
        .expect("a policy on ExpireHoldsDLQ");
    let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"].as_str(), Some("events.amazonaws.com"));
    assert!(!statement["Condition"]["ArnEquals"]["aws:SourceArn"].is_null(), "only expire-holds' own rule may send there");
}

/// No function statement grants an action on every resource.
#[test]
fn no_function_statement_names_every_resource() {
    let t = template();
    for (id, _binary, props) in functions(&t) {
        for policy in props["Policies"].as_sequence().cloned().unwrap_or_default() {
            for statement in policy.get("Statement").and_then(Value::as_sequence).cloned().unwrap_or_default() {
                let resources: Vec<Value> = match &statement["Resource"] {
                    Value::Sequence(list) => list.clone(),
                    other => vec![other.clone()],
                };
                assert!(resources.iter().all(|r| r.as_str() != Some("*")), "{id} grants {:?} on every resource", statement["Action"]);
            }
        }
    }
}

/// Every function has reserved concurrency, from a parameter (but `check-deliveries`, whose one
/// execution is what keeps its runs from overlapping); a queue consumer's is at least what its
/// event source may run at once; the booking path is kept warm in prod.
#[test]
fn every_function_has_reserved_concurrency_from_a_parameter() {
    let t = template();
    let default = |name: &str| t["Parameters"][name]["Default"].as_u64().unwrap_or_else(|| panic!("parameter {name} has no number default"));
    for (id, binary, props) in functions(&t) {
        let reserved = &props["ReservedConcurrentExecutions"];
        let n = match referenced(reserved) {
            Some(parameter) => {
                assert!(["ApiConcurrency", "ConsumerConcurrency", "PaymentConcurrency"].contains(&parameter.as_str()), "{id}: {parameter}");
                default(&parameter)
            }
            None => {
                assert_eq!(binary, "check-deliveries", "{id} has no reserved concurrency from a parameter");
                reserved.as_u64().unwrap()
            }
        };
        for (_, event) in props["Events"].as_mapping().cloned().unwrap_or_default() {
            if let Some(max) = event["Properties"]["ScalingConfig"]["MaximumConcurrency"].as_u64() {
                assert!(n >= max, "{id}: reserved {n} < its queue's MaximumConcurrency {max}: batches would be throttled");
            }
        }
        if binary == "place-reservation" {
            assert!(is_tagged(&props["ProvisionedConcurrencyConfig"]), "{id}: provisioned concurrency in prod");
        }
    }
}

/// Every deploy shifts traffic gradually in every stage (a canary in prod, linear in dev) and
/// watches alarms on the live alias's errors and latency, which roll it back by themselves; each
/// alarm names functions and metrics that exist.
#[test]
fn deploys_shift_gradually_and_roll_back_on_the_live_alias_alarms() {
    let t = template();
    let preference = &t["Globals"]["Function"]["DeploymentPreference"];
    let Value::Tagged(kind) = &preference["Type"] else { panic!("DeploymentPreference.Type is !If [IsProd, ...]") };
    let choices: Vec<&str> = kind.value.as_sequence().unwrap().iter().skip(1).map(|v| v.as_str().unwrap()).collect();
    assert!(choices[0].starts_with("Canary"), "prod: a canary ({choices:?})");
    assert!(choices[1].starts_with("Linear") || choices[1].starts_with("Canary"), "dev shifts gradually too, never AllAtOnce ({choices:?})");
    let alarms: Vec<String> = preference["Alarms"].as_sequence().unwrap().iter().map(|a| referenced(a).unwrap()).collect();
    assert!(alarms.contains(&"BookingLatencyAlarm".to_string()) && alarms.contains(&"ApiErrorsAlarm".to_string()), "{alarms:?}");
    let resources = &t["Resources"];
    let functions: BTreeSet<String> = functions(&t).into_iter().map(|(_, binary, _)| binary).collect();
    let mut watched = BTreeSet::new();
    for alarm in &alarms {
        let props = &resources[alarm.as_str()]["Properties"];
        assert_eq!(resources[alarm.as_str()]["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{alarm}");
        // The live alias's metrics: FunctionName and Resource = "<function>:live".
        let mut dimension_sets: Vec<Value> = props["Dimensions"].as_sequence().map(|d| vec![Value::Sequence(d.clone())]).unwrap_or_default();
        for query in props["Metrics"].as_sequence().cloned().unwrap_or_default() {
            if let Some(d) = query["MetricStat"]["Metric"]["Dimensions"].as_sequence() {
                dimension_sets.push(Value::Sequence(d.clone()));
            }
        }
        for dimensions in dimension_sets {
            let value = |name: &str| -> Option<String> {
                dimensions.as_sequence().unwrap().iter().find(|d| d["Name"].as_str() == Some(name)).map(|d| match &d["Value"] {
                    Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_owned(),
                    other => other.as_str().unwrap_or_default().to_owned(),
                })
            };
            if let Some(resource) = value("Resource") {
                let function = value("FunctionName").unwrap();
                assert_eq!(resource, format!("{function}:live"), "{alarm}: the live alias");
                let binary = function.strip_prefix("bnb-${Stage}-").unwrap_or_else(|| panic!("{alarm}: {function}"));
                assert!(functions.contains(binary), "{alarm} watches {binary}, which is not a function here");
                watched.insert(binary.to_owned());
            }
        }
    }
    let unwatched: Vec<_> = functions.difference(&watched).collect();
    assert!(unwatched.is_empty(), "no alarm watches the live alias of {unwatched:?}: a bad deploy of it would not roll back");
}

/// The dashboard parses as CloudWatch will read it, and every `bnb` metric it shows is one the
/// functions write (`bnb_contexts::metrics`), with the stage dimension they write it with.
#[test]
fn the_dashboard_shows_metrics_the_functions_write() {
    use bnb_contexts::metrics as m;
    let t = template();
    let Value::Tagged(body) = &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"] else { panic!("DashboardBody is !Sub") };
    let text = body.value.as_str().unwrap().replace("${Stage}", "dev").replace("${AWS::Region}", "ap-northeast-2");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard body is JSON");
    let written = [m::COLD_START, m::BOOKINGS_CONFIRMED, m::BOOKINGS_REJECTED, m::BOOKINGS_ABORTED, m::PAYMENT_LATENCY, m::BREAKER_OPENS, m::EVENT_AGE];
    let mut shown = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().unwrap() {
        for metric in widget["properties"]["metrics"].as_array().unwrap() {
            if metric[0] == "bnb" {
                shown.insert(metric[1].as_str().unwrap().to_owned());
                assert_eq!((metric[2].as_str(), metric[3].as_str()), (Some("Stage"), Some("dev")), "{metric}");
            }
            if let Some(expression) = metric[0]["expression"].as_str() {
                let name = expression.split("MetricName=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
                if expression.contains("{bnb,") {
                    assert!(expression.contains("Stage=\"dev\""), "{expression}");
                    shown.insert(name.to_owned());
                }
            }
        }
    }
    for name in &shown {
        assert!(written.contains(&name.as_str()), "the dashboard shows bnb/{name}, which no function writes");
    }
    assert_eq!(shown.len(), written.len(), "every metric the functions write is on the dashboard: {shown:?}");
}

/// `docs/openapi.yaml`, the API's contract, is OpenAPI 3.0 (API Gateway rejects 3.1) and has
/// exactly the routes `template.yaml` gives API Gateway, each secured as the route is.
#[test]
fn the_openapi_document_has_exactly_the_template_routes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.0.")), "{}", doc["openapi"]);
    let t = template();
    let mut routes = BTreeMap::new();
    for (id, _binary, props) in functions(&t) {
        for (_, event) in props["Events"].as_mapping().cloned().unwrap_or_default() {
            if event["Type"].as_str() == Some("HttpApi") {
                let p = &event["Properties"];
                let anonymous = p["Auth"]["Authorizer"].as_str() == Some("NONE");
                routes.insert((p["Method"].as_str().unwrap().to_lowercase(), p["Path"].as_str().unwrap().to_owned()), (id.clone(), anonymous));
            }
        }
    }
    let mut documented = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                let anonymous = operation["security"].as_array().is_some_and(|s| s.is_empty());
                documented.insert((method.clone(), path.clone()), anonymous);
            }
        }
    }
    let template_routes: BTreeSet<_> = routes.keys().cloned().collect();
    let doc_routes: BTreeSet<_> = documented.keys().cloned().collect();
    assert_eq!(doc_routes, template_routes, "the document and the template disagree on the routes");
    for (route, (id, anonymous)) in &routes {
        assert_eq!(documented[route], *anonymous, "{route:?} ({id}): anonymous in one, secured in the other");
    }
}
