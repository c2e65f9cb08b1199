//! `template.yaml` and the stacks it nests (`stacks/`), read as AWS will read them: least
//! privilege for every function, the payment function out of the API's reach, the production
//! settings a deploy relies on, and what the root passes each stack.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

/// One template of the deployment: the root (`template.yaml`) or a context's nested stack.
struct Stack {
    /// The nested application's logical id in the root (`Rooms`), or `Root`.
    name: String,
    file: String,
    t: Value,
}

fn read(path: &std::path::Path) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The root template and every stack it nests (`AWS::Serverless::Application` by local path),
/// root first.
fn stacks() -> Vec<Stack> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = read(&dir.join("template.yaml"));
    let mut all = vec![];
    for (id, r) in root["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() == Some("AWS::Serverless::Application") {
            let file = r["Properties"]["Location"].as_str().unwrap_or_else(|| panic!("{id:?}: a local Location")).to_owned();
            all.push(Stack { name: id.as_str().unwrap().to_owned(), t: read(&dir.join(&file)), file });
        }
    }
    all.insert(0, Stack { name: "Root".into(), file: "template.yaml".into(), t: root });
    all
}

fn root(stacks: &[Stack]) -> &Value {
    &stacks[0].t
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

/// `!GetAtt X.Y` as (`X`, `Y`).
fn attribute(value: &Value) -> Option<(String, String)> {
    match value {
        Value::Tagged(t) if t.tag == "GetAtt" => t.value.as_str().and_then(|v| v.split_once('.')).map(|(a, b)| (a.to_owned(), b.to_owned())),
        _ => None,
    }
}

/// What a nested stack's parameter is given by the root: `!Ref RootThing` or
/// `!GetAtt Other.Outputs.Name`, followed to what that other stack outputs.
fn passed(stacks: &[Stack], stack: &Stack, parameter: &str) -> Value {
    let given = root(stacks)["Resources"][stack.name.as_str()]["Properties"]["Parameters"][parameter].clone();
    assert!(!given.is_null(), "{}: the root passes no {parameter}", stack.file);
    match attribute(&given) {
        Some((other, output)) => {
            let output = output.strip_prefix("Outputs.").unwrap_or_else(|| panic!("{}: {parameter} from {other}.{output}", stack.file));
            let source = stacks.iter().find(|s| s.name == other).unwrap_or_else(|| panic!("{}: {parameter} from {other}, not a stack", stack.file));
            let value = source.t["Outputs"][output]["Value"].clone();
            assert!(!value.is_null(), "{}: {parameter} from {other}'s output {output}, which it does not declare", stack.file);
            value
        }
        None => given,
    }
}

/// The logical id behind a reference in `stack`: a resource of its own, or (through a parameter)
/// the resource of another stack whose output the root passes to it: (stack name, logical id, attribute).
fn behind(stacks: &[Stack], stack: &Stack, value: &Value) -> (String, String, Option<String>) {
    if let Some((id, attr)) = attribute(value) {
        return (stack.name.clone(), id, Some(attr));
    }
    let id = referenced(value).unwrap_or_else(|| panic!("{}: {value:?} is neither !Ref nor !GetAtt", stack.file));
    if stack.t["Parameters"].get(id.as_str()).is_none() || stack.name == "Root" {
        return (stack.name.clone(), id, None);
    }
    let given = root(stacks)["Resources"][stack.name.as_str()]["Properties"]["Parameters"][id.as_str()].clone();
    let source = attribute(&given).map(|(other, _)| other).unwrap_or_else(|| "Root".into());
    let source = stacks.iter().find(|s| s.name == source).unwrap();
    let (_, id, attr) = behind(stacks, source, &passed(stacks, stack, &id));
    (source.name.clone(), id, attr)
}

/// Every function of every stack: (stack, logical id, binary, properties).
fn functions(stacks: &[Stack]) -> Vec<(&Stack, String, String, Value)> {
    stacks
        .iter()
        .flat_map(|s| {
            s.t["Resources"].as_mapping().unwrap().iter().filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function")).map(move |(id, r)| {
                (s, id.as_str().unwrap().to_owned(), r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned(), r["Properties"].clone())
            })
        })
        .collect()
}

/// Every resource of every stack: (stack, logical id, resource).
fn resources(stacks: &[Stack]) -> Vec<(&Stack, String, Value)> {
    stacks.iter().flat_map(|s| s.t["Resources"].as_mapping().unwrap().iter().map(move |(id, r)| (s, id.as_str().unwrap().to_owned(), r.clone()))).collect()
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
        ("reconcile-payments", (&["PaymentsTable"][..], &[][..])),
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
fn every_stack_file_is_nested_and_gets_exactly_its_parameters_from_the_root() {
    let stacks = stacks();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks");
    let mut files: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| format!("stacks/{}", e.unwrap().file_name().to_string_lossy())).collect();
    files.sort();
    let mut nested: Vec<String> = stacks.iter().skip(1).map(|s| s.file.clone()).collect();
    nested.sort();
    assert_eq!(files, nested, "every file in stacks/ is a stack the root nests");
    let expected = ["Backbone", "Rooms", "Reservations", "Reviews", "Notifications", "Views", "Relay"];
    assert_eq!(stacks.iter().skip(1).map(|s| s.name.as_str()).collect::<BTreeSet<_>>(), BTreeSet::from(expected), "one stack per context");
    for stack in stacks.iter().skip(1) {
        let declared: BTreeSet<String> =
            stack.t["Parameters"].as_mapping().map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect()).unwrap_or_default();
        let given: BTreeSet<String> = root(&stacks)["Resources"][stack.name.as_str()]["Properties"]["Parameters"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        assert_eq!(given, declared, "{}: the root passes exactly the parameters it declares", stack.file);
        for parameter in &declared {
            // Followed to its source: a root parameter, a root resource, or another stack's output.
            let value = passed(&stacks, stack, parameter);
            if let Some(name) = referenced(&value) {
                let in_root = root(&stacks)["Parameters"].get(name.as_str()).is_some() || root(&stacks)["Resources"].get(name.as_str()).is_some();
                let own_output = attribute(&root(&stacks)["Resources"][stack.name.as_str()]["Properties"]["Parameters"][parameter.as_str()]).is_some();
                assert!(in_root || own_output, "{}: {parameter} is given {name}, which the root does not have", stack.file);
            }
            // A stack that runs on its own is told everything; nothing is a default of its own.
            assert!(stack.t["Parameters"][parameter.as_str()]["Default"].is_null(), "{}: {parameter} has a default; the root's is the one", stack.file);
        }
    }
}

#[test]
fn every_function_touches_only_its_own_tables_and_no_action_is_a_wildcard() {
    let stacks = stacks();
    let owners = ownership();
    for (stack, id, binary, props) in functions(&stacks) {
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
                    // One parameter, a provider's secret key, by the template parameter naming it:
                    // the dealer's for its two functions, the payment provider's for its three.
                    "SSMParameterReadPolicy" => match referenced(&args["ParameterName"]).as_deref() {
                        Some("AlimTalkSecretKeyParameter") => {
                            assert!(["alimtalk-sender", "check-deliveries"].contains(&binary.as_str()), "{id} reads the dealer's secret key")
                        }
                        Some("TossSecretKeyParameter") => assert!(
                            ["process-payment", "payment-handler", "reconcile-payments"].contains(&binary.as_str()),
                            "{id} reads the payment provider's secret key"
                        ),
                        other => panic!("{id} may read another parameter: {other:?}"),
                    },
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
                            check_table_grant(&stacks, stack, &id, &binary, writes, reads, &actions, &statement["Resource"]);
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
/// reads, and only indexes the table has. Another context's table reaches a stack as a
/// parameter; it is followed to the table the root passes.
#[allow(clippy::too_many_arguments)]
fn check_table_grant(stacks: &[Stack], stack: &Stack, id: &str, binary: &str, writes: &[&str], reads: &[&str], actions: &[String], resource: &Value) {
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
        // `!GetAtt X.Arn` or `!Ref XArn` (a table), `!Sub "${X.Arn}/index/NAME"` or `!Sub "${XArn}/index/NAME"` (an index).
        let (table_ref, index) = match &resource {
            Value::Tagged(tagged) if tagged.tag == "Sub" => {
                let text = tagged.value.as_str().unwrap_or_default();
                let (arn, index) = text.strip_prefix("${").and_then(|r| r.split_once("}/index/")).unwrap_or_else(|| panic!("{id}: resource {text}"));
                let table_ref = match arn.split_once('.') {
                    Some((table, attr)) => serde_yaml_ng::from_str::<Value>(&format!("!GetAtt {table}.{attr}")).unwrap(),
                    None => serde_yaml_ng::from_str::<Value>(&format!("!Ref {arn}")).unwrap(),
                };
                (table_ref, Some(index.to_owned()))
            }
            other => (other.clone(), None),
        };
        let (owner, table, attr) = behind(stacks, stack, &table_ref);
        assert_eq!(attr.as_deref(), Some("Arn"), "{id}: {resource:?} is not a table's ARN");
        let declaration = &stacks.iter().find(|s| s.name == owner).unwrap().t["Resources"][table.as_str()];
        assert_eq!(declaration["Type"].as_str(), Some("AWS::DynamoDB::Table"), "{id}: {resource:?} is not a table");
        if writing {
            assert!(writes.contains(&table.as_str()), "{id} may write {table}, another context's table");
        } else {
            assert!(writes.contains(&table.as_str()) || reads.contains(&table.as_str()), "{id} may read {table}");
        }
        if let Some(index) = index {
            let declared = declaration["Properties"]["GlobalSecondaryIndexes"]
                .as_sequence()
                .is_some_and(|l| l.iter().any(|i| i["IndexName"].as_str() == Some(index.as_str())));
            assert!(declared, "{id} is granted the index {index}, which {table} does not have");
            assert!(dynamodb.iter().all(|a| *a == "Query"), "{id}: only Query reads an index");
        }
    }
}

#[test]
fn only_place_reservation_may_invoke_the_payment_function_and_the_api_cannot() {
    let stacks = stacks();
    let mut invokers = BTreeSet::new();
    for (stack, id, binary, props) in functions(&stacks) {
        for policy in props["Policies"].as_sequence().cloned().unwrap_or_default() {
            if let Some(args) = policy.get("LambdaInvokePolicy") {
                assert_eq!(behind(&stacks, stack, &args["FunctionName"]).1, "ProcessPaymentFunction");
                invokers.insert(binary.clone());
            }
        }
        if binary == "process-payment" {
            assert!(props.get("Events").is_none(), "{id} has no trigger");
            assert_eq!(
                referenced(&props["ReservedConcurrentExecutions"]).as_deref(),
                Some("PaymentConcurrency"),
                "payment has reserved concurrency (a bulkhead)"
            );
        }
    }
    assert_eq!(invokers, BTreeSet::from(["place-reservation".to_string()]));
    // No route's integration calls it.
    for (stack, id, r) in resources(&stacks) {
        if r["Type"].as_str() == Some("AWS::ApiGatewayV2::Integration") {
            let uri = referenced(&r["Properties"]["IntegrationUri"]).unwrap_or_else(|| panic!("{}: {id} calls a function's live alias", stack.file));
            assert!(!uri.starts_with("ProcessPaymentFunction"), "{}: {id} routes the API to process-payment", stack.file);
        }
    }
}

#[test]
fn deploys_are_production_minded() {
    let stacks = stacks();
    for stack in &stacks {
        let resources = stack.t["Resources"].as_mapping().unwrap();
        if resources.values().any(|r| r["Type"].as_str() == Some("AWS::Serverless::Function")) {
            let globals = &stack.t["Globals"]["Function"];
            assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"), "{}", stack.file);
            assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"), "{}", stack.file);
            assert_eq!(globals["Tracing"].as_str(), Some("Active"), "{}", stack.file);
            assert_eq!(globals["AutoPublishAlias"].as_str(), Some("live"), "{}", stack.file);
            assert!(is_tagged(&globals["Environment"]["Variables"]["BNB_STAGE"]), "{}: metrics carry the stage", stack.file);
        }
        for (id, r) in resources {
            let id = id.as_str().unwrap();
            match r["Type"].as_str().unwrap_or_default() {
                "AWS::Serverless::Function" => {
                    assert_eq!(r["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{id}");
                    // cargo lambda builds in the workspace, which is the root template's folder.
                    let code = r["Properties"]["CodeUri"].as_str().unwrap();
                    let depth: i32 = std::path::Path::new(&stack.file)
                        .parent()
                        .unwrap()
                        .join(code)
                        .components()
                        .map(|c| match c {
                            std::path::Component::Normal(_) => 1,
                            std::path::Component::ParentDir => -1,
                            _ => 0,
                        })
                        .sum();
                    assert_eq!(depth, 0, "{}: {id}'s CodeUri {code} is not the workspace", stack.file);
                    let group = &resources[&Value::String(format!("{id}LogGroup"))]["Properties"];
                    assert!(
                        matches!(&group["LogGroupName"], Value::Tagged(t) if t.value.as_str() == Some(&format!("/aws/lambda/${{{id}}}"))),
                        "{id}: a log group of its own"
                    );
                    assert!(is_tagged(&group["RetentionInDays"]), "{id}: retention");
                }
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
                    assert!(resources.contains_key(Value::String(format!("{id}DepthAlarm"))), "{id} has a depth alarm in its stack");
                }
                _ => {}
            }
        }
    }
    assert!(resources(&stacks).iter().any(|(_, id, _)| id == "PaymentErrorsAlarm"));
}

/// What keeps bnb's data and people's attention: tables outlive the stack, every alarm tells
/// someone, and the schedule's dead letters have somewhere to go.
#[test]
fn tables_are_kept_alarms_act_and_dead_letters_can_land() {
    let stacks = stacks();
    let all = resources(&stacks);
    let of_type = |kind: &'static str| -> Vec<(&Stack, String, Value)> { all.iter().filter(|(_, _, r)| r["Type"].as_str() == Some(kind)).cloned().collect() };
    let tables = of_type("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 6);
    for (_, id, table) in tables {
        assert_eq!(
            (table["DeletionPolicy"].as_str(), table["UpdateReplacePolicy"].as_str()),
            (Some("Retain"), Some("Retain")),
            "{id}: deleting the stack would delete it"
        );
    }
    let alarms = of_type("AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 10);
    for (stack, id, alarm) in alarms {
        let actions = alarm["Properties"]["AlarmActions"].as_sequence().unwrap_or_else(|| panic!("{id} tells no one"));
        assert!(actions.iter().any(|a| behind(&stacks, stack, a) == ("Root".into(), "OpsTopic".into(), None)), "{id} does not notify the ops topic");
    }
    let (_, _, policy) = of_type("AWS::SQS::QueuePolicy")
        .into_iter()
        .find(|(_, _, p)| p["Properties"]["Queues"].as_sequence().is_some_and(|q| q.iter().any(|q| referenced(q).as_deref() == Some("ExpireHoldsDLQ"))))
        .expect("a policy on ExpireHoldsDLQ");
    let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"].as_str(), Some("events.amazonaws.com"));
    assert!(!statement["Condition"]["ArnEquals"]["aws:SourceArn"].is_null(), "only expire-holds' own rule may send there");
}

/// No function statement grants an action on every resource.
#[test]
fn no_function_statement_names_every_resource() {
    let stacks = stacks();
    for (_, id, _binary, props) in functions(&stacks) {
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
    let stacks = stacks();
    let default = |name: &str| root(&stacks)["Parameters"][name]["Default"].as_u64().unwrap_or_else(|| panic!("parameter {name} has no number default"));
    for (stack, id, binary, props) in functions(&stacks) {
        let reserved = &props["ReservedConcurrentExecutions"];
        let n = match referenced(reserved) {
            Some(parameter) => {
                assert!(["ApiConcurrency", "ConsumerConcurrency", "PaymentConcurrency"].contains(&parameter.as_str()), "{id}: {parameter}");
                assert_eq!(behind(&stacks, stack, reserved).1, parameter, "{id}: the root's {parameter}");
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

/// Every deploy, of any stack, shifts traffic gradually in every stage (a canary in prod, linear
/// in dev) and watches alarms on the live alias's errors and latency, which roll it back by
/// themselves; each alarm names functions and metrics that exist, and each stack's alarms watch
/// every function it deploys.
#[test]
fn deploys_shift_gradually_and_roll_back_on_the_live_alias_alarms() {
    let stacks = stacks();
    let mut watched_anywhere = BTreeSet::new();
    for stack in &stacks {
        let own: BTreeSet<String> = functions(std::slice::from_ref(stack)).into_iter().map(|(_, _, binary, _)| binary).collect();
        if own.is_empty() {
            continue;
        }
        let preference = &stack.t["Globals"]["Function"]["DeploymentPreference"];
        let Value::Tagged(kind) = &preference["Type"] else { panic!("{}: DeploymentPreference.Type is !If [IsProd, ...]", stack.file) };
        let choices: Vec<&str> = kind.value.as_sequence().unwrap().iter().skip(1).map(|v| v.as_str().unwrap()).collect();
        assert!(choices[0].starts_with("Canary"), "{}: prod, a canary ({choices:?})", stack.file);
        assert!(
            choices[1].starts_with("Linear") || choices[1].starts_with("Canary"),
            "{}: dev shifts gradually too, never AllAtOnce ({choices:?})",
            stack.file
        );
        let alarms: Vec<(String, String)> = preference["Alarms"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| {
                let (owner, id, _) = behind(&stacks, stack, a);
                (owner, id)
            })
            .collect();
        assert!(alarms.contains(&("Root".into(), "ApiErrorsAlarm".into())), "{}: {alarms:?}", stack.file);
        if own.contains("place-reservation") {
            assert!(alarms.iter().any(|(_, a)| a == "BookingLatencyAlarm"), "{}: {alarms:?}", stack.file);
        }
        let mut watched = BTreeSet::new();
        for (owner, alarm) in &alarms {
            let resource = &stacks.iter().find(|s| &s.name == owner).unwrap().t["Resources"][alarm.as_str()];
            assert_eq!(resource["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{alarm}");
            let props = &resource["Properties"];
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
                    assert!(own.contains(binary), "{alarm} watches {binary}, which {} does not deploy", stack.file);
                    watched.insert(binary.to_owned());
                }
            }
        }
        let unwatched: Vec<_> = own.difference(&watched).collect();
        assert!(unwatched.is_empty(), "{}: no alarm watches the live alias of {unwatched:?}: a bad deploy of it would not roll back", stack.file);
        watched_anywhere.extend(watched);
    }
    assert_eq!(watched_anywhere.len(), functions(&stacks).len(), "every function is watched by its own stack's deploy");
}

/// The dashboard parses as CloudWatch will read it, and every `bnb` metric it shows is one the
/// functions write (`bnb_contexts::metrics`), with the stage dimension they write it with; every
/// queue it shows is a dead-letter queue a stack outputs.
#[test]
fn the_dashboard_shows_metrics_the_functions_write() {
    use bnb_contexts::metrics as m;
    let stacks = stacks();
    let Value::Tagged(body) = &root(&stacks)["Resources"]["Dashboard"]["Properties"]["DashboardBody"] else { panic!("DashboardBody is !Sub") };
    let mut text = body.value.as_str().unwrap().replace("${Stage}", "dev").replace("${AWS::Region}", "ap-northeast-2").replace("${HttpApi}", "api");
    for stack in &stacks[1..] {
        for (output, _) in stack.t["Outputs"].as_mapping().cloned().unwrap_or_default() {
            let output = output.as_str().unwrap();
            text = text.replace(&format!("${{{}.Outputs.{output}}}", stack.name), &format!("{}-{output}", stack.name));
        }
    }
    assert!(
        !text.contains("${"),
        "the dashboard names only what the stacks output: {}",
        text.split("${").nth(1).unwrap_or_default().split('}').next().unwrap_or_default()
    );
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

/// Every route, wherever its stack: `RouteKey` "METHOD /path", a JWT route on the root's
/// authorizer, its integration calling the function's live alias (so a deploy's traffic shift
/// covers the API), and a permission for API Gateway to call that alias on that route only.
/// (method, path) → (stack, function, anonymous).
fn routes(stacks: &[Stack]) -> BTreeMap<(String, String), (String, String, bool)> {
    let mut routes = BTreeMap::new();
    for (stack, id, r) in resources(stacks) {
        if r["Type"].as_str() == Some("AWS::Serverless::Function") {
            let events = r["Properties"]["Events"].as_mapping().cloned().unwrap_or_default();
            assert!(events.values().all(|e| e["Type"].as_str() != Some("HttpApi")), "{}: {id} has an HttpApi event; routes are Route resources", stack.file);
        }
        if r["Type"].as_str() != Some("AWS::ApiGatewayV2::Route") {
            continue;
        }
        let p = &r["Properties"];
        assert_eq!(behind(stacks, stack, &p["ApiId"]).1, "HttpApi", "{}: {id} is on the root's API", stack.file);
        let key = p["RouteKey"].as_str().unwrap();
        let (method, path) = key.split_once(' ').unwrap();
        let anonymous = match p["AuthorizationType"].as_str() {
            Some("NONE") => true,
            Some("JWT") => {
                assert_eq!(behind(stacks, stack, &p["AuthorizerId"]).1, "HttpApiAuthorizer", "{}: {id}", stack.file);
                false
            }
            other => panic!("{}: {id} has AuthorizationType {other:?}; say JWT or NONE", stack.file),
        };
        let Value::Tagged(target) = &p["Target"] else { panic!("{}: {id}'s Target", stack.file) };
        let integration = target.value.as_str().and_then(|t| t.strip_prefix("integrations/${")).and_then(|t| t.strip_suffix('}')).unwrap();
        let uri = referenced(&stack.t["Resources"][integration]["Properties"]["IntegrationUri"]).unwrap_or_else(|| panic!("{}: {integration}", stack.file));
        let function = uri.strip_suffix("Aliaslive").unwrap_or_else(|| panic!("{}: {integration} calls {uri}, not a live alias", stack.file));
        assert_eq!(stack.t["Resources"][function]["Type"].as_str(), Some("AWS::Serverless::Function"), "{}: {integration}", stack.file);
        assert_eq!(stack.t["Resources"][integration]["Properties"]["PayloadFormatVersion"].as_str(), Some("2.0"), "{}: {integration}", stack.file);
        let source = format!("/*/{method}{}", path.split('/').map(|s| if s.starts_with('{') { "*" } else { s }).collect::<Vec<_>>().join("/"));
        let permitted = stack.t["Resources"].as_mapping().unwrap().values().any(|perm| {
            perm["Type"].as_str() == Some("AWS::Lambda::Permission")
                && referenced(&perm["Properties"]["FunctionName"]).as_deref() == Some(uri.as_str())
                && perm["Properties"]["Principal"].as_str() == Some("apigateway.amazonaws.com")
                && matches!(&perm["Properties"]["SourceArn"], Value::Tagged(t) if t.value.as_str().is_some_and(|a| a.ends_with(&source)))
        });
        assert!(permitted, "{}: no permission lets API Gateway call {uri} on {key}", stack.file);
        let function_binary = stack.t["Resources"][function]["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
        let previous = routes.insert((method.to_lowercase(), path.to_owned()), (stack.name.clone(), function_binary, anonymous));
        assert!(previous.is_none(), "{key} is routed twice");
    }
    routes
}

/// `docs/openapi.yaml`, the API's contract, is OpenAPI 3.0 (API Gateway rejects 3.1) and has
/// exactly the routes the stacks give API Gateway, each secured as the route is.
#[test]
fn the_openapi_document_has_exactly_the_template_routes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.0.")), "{}", doc["openapi"]);
    let routes = routes(&stacks());
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
    assert_eq!(doc_routes, template_routes, "the document and the stacks disagree on the routes");
    for (route, (stack, binary, anonymous)) in &routes {
        assert_eq!(documented[route], *anonymous, "{route:?} ({stack}: {binary}): anonymous in one, secured in the other");
    }
}

/// Each context's routes live in its own stack: a change to reviews redeploys no booking route.
#[test]
fn each_route_is_in_the_stack_of_its_context() {
    let routes = routes(&stacks());
    assert_eq!(routes.len(), 16);
    for ((method, path), (stack, binary, _)) in &routes {
        let expected = match path.as_str() {
            p if p.ends_with("/reviews") => "Reviews",
            p if p.starts_with("/rooms") => "Rooms",
            "/reservations" | "/reservations/{reservationId}/cancel" => "Reservations",
            "/reservations/{reservationId}" | "/me/reservations" | "/host/dashboard" => "Views",
            "/me/notifications" | "/me/profile" => "Notifications",
            "/me/host" => "Root",
            other => panic!("{method} {other} ({binary}): which context?"),
        };
        assert_eq!(stack, expected, "{method} {path} ({binary})");
    }
}

/// Every function that takes part in a payment names the same provider, the template's
/// `PaymentProvider`: a booking, its confirm, its refunds and its reconciliation never disagree
/// on who holds the money (a card token must never pay where Toss is the provider).
#[test]
fn every_payment_function_names_the_templates_provider() {
    let stacks = stacks();
    let mut named = BTreeSet::new();
    for (stack, id, binary, props) in functions(&stacks) {
        let provider = &props["Environment"]["Variables"]["PAYMENT_PROVIDER"];
        if provider.is_null() {
            continue;
        }
        assert_eq!(behind(&stacks, stack, provider).1, "PaymentProvider", "{id}: the root's PaymentProvider");
        named.insert(binary);
    }
    let expected = ["place-reservation", "process-payment", "payment-handler", "reconcile-payments"];
    assert_eq!(named, expected.iter().map(|s| s.to_string()).collect(), "the functions that take part in a payment");
    let allowed = &root(&stacks)["Parameters"]["PaymentProvider"]["AllowedValues"];
    assert_eq!(allowed.as_sequence().map(|l| l.len()), Some(2), "sandbox and toss, nothing a typo could make");
}

/// The root's `Rules`, as CloudFormation applies them before it changes anything (and bnb-local
/// before it starts): prod never runs on the sandbox, which approves any card token, and Toss
/// never runs without the client key its widget needs. samconfig's prod overrides and the deploy
/// workflow's (with a client key) pass them.
#[test]
fn a_prod_stack_takes_real_payments() {
    use bnb_local::template::Topology;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = dir.join("template.yaml");
    let load = |pairs: &[(&str, &str)]| Topology::load_with(&template, &pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());

    let refused = load(&[("Stage", "prod")]).expect_err("prod on the sandbox");
    assert!(refused.to_string().contains("ProdTakesRealPayments") && refused.to_string().contains("PaymentProvider=toss"), "{refused}");
    let refused = load(&[("Stage", "dev"), ("PaymentProvider", "toss")]).expect_err("Toss without a client key");
    assert!(refused.to_string().contains("TossNeedsItsClientKey"), "{refused}");
    load(&[("Stage", "dev")]).expect("dev on the sandbox, as bnb-local and the tests run");
    load(&[("Stage", "dev"), ("PaymentProvider", "toss"), ("TossClientKey", "test_gck_x")]).expect("dev on Toss");

    let samconfig = std::fs::read_to_string(dir.join("samconfig.toml")).unwrap();
    let prod = samconfig.split("[prod.deploy.parameters]").nth(1).expect("samconfig has prod's deploy parameters");
    let overrides = prod.lines().find_map(|l| l.strip_prefix("parameter_overrides = ")).expect("prod's parameter_overrides").trim_matches('"');
    let mut pairs: Vec<(&str, &str)> = overrides.split_whitespace().filter_map(|p| p.split_once('=')).collect();
    assert!(pairs.contains(&("Stage", "prod")), "{overrides}");
    pairs.push(("TossClientKey", "live_gck_x"));
    load(&pairs).expect("samconfig's prod overrides, given a client key");

    let workflow = std::fs::read_to_string(dir.join(".github/workflows/deploy.yml")).unwrap();
    let prod_deploy = workflow.split("deploy-prod:").nth(1).expect("the workflow deploys prod");
    assert!(
        prod_deploy.contains("--parameter-overrides Stage=prod PaymentProvider=toss \"TossClientKey=${{ vars.TOSS_CLIENT_KEY }}\""),
        "the workflow deploys prod on Toss with the repository's client key"
    );
}
