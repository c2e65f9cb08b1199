//! The function registry against what is built and deployed: every function is declared once
//! (its crate's `FUNCTION`), and that one declaration agrees with `template.yaml`, with `events/`,
//! with its Lambda main, and with what its binary links (`cargo metadata`): a function links only
//! the adapters of what it needs, and the crates depend on each other down the hexagon only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use bnb_lambda::{Function, Need, Trigger};
use bnb_local::functions::REGISTRY;
use bnb_local::template::{Topology, Trigger as Declared};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn topology() -> Topology {
    Topology::load(&root().join("template.yaml")).expect("template.yaml parses")
}

/// Each package's name and the names of every package it links (its normal dependencies,
/// transitively; build and dev dependencies are not linked into the binary).
struct Graph {
    links: BTreeMap<String, BTreeSet<String>>,
    /// Package name → the versions present in a package's closure, for the legacy-stack check.
    versions: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

fn graph() -> Graph {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let packages: BTreeMap<String, (String, String)> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), (p["name"].as_str().unwrap().to_owned(), p["version"].as_str().unwrap().to_owned())))
        .collect();
    let mut direct: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let normal = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
            .map(|d| d["pkg"].as_str().unwrap().to_owned())
            .collect();
        direct.insert(node["id"].as_str().unwrap().to_owned(), normal);
    }
    let mut links = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for (id, (name, _)) in &packages {
        let mut seen = BTreeSet::new();
        let mut stack = direct.get(id).cloned().unwrap_or_default();
        while let Some(next) = stack.pop() {
            if seen.insert(next.clone()) {
                stack.extend(direct.get(&next).cloned().unwrap_or_default());
            }
        }
        let mut by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for id in &seen {
            let (n, v) = &packages[id];
            by_name.entry(n.clone()).or_default().insert(v.clone());
        }
        links.insert(name.clone(), by_name.keys().cloned().collect());
        versions.insert(name.clone(), by_name);
    }
    Graph { links, versions }
}

impl Graph {
    fn links(&self, package: &str) -> &BTreeSet<String> {
        self.links.get(package).unwrap_or_else(|| panic!("no package {package} in the workspace"))
    }
}

fn needs_table(f: &Function) -> bool {
    f.needs.iter().any(|n| matches!(n, Need::Table(_)))
}

fn needs_sns(f: &Function) -> bool {
    f.needs.iter().any(|n| matches!(n, Need::Topic(_)))
}

#[test]
fn each_function_links_only_the_adapters_of_what_it_needs() {
    let graph = graph();
    for f in REGISTRY {
        let links = graph.links(f.name);
        let says = |crate_name: &str, wanted: bool, why: &str| {
            assert_eq!(links.contains(crate_name), wanted, "{}: links {crate_name} = {}, but {why}", f.name, links.contains(crate_name));
        };
        says("rusqlite", false, "no Lambda function links SQLite");
        says("bnb-embedded", false, "no Lambda function links the embedded adapters");
        says("aws-sdk-dynamodbstreams", false, "functions get stream records from Lambda, never read a stream");
        says("aws-sdk-sso", false, "Lambda credentials come from the environment, never SSO");
        says("aws-sdk-ssooidc", false, "Lambda credentials come from the environment, never SSO");
        says("aws-lc-sys", false, "TLS is rustls on ring (bnb_lambda::aws::https_client): aws-lc adds megabytes (docs/benchmarks.md)");
        says("aws-sdk-dynamodb", needs_table(f), "it needs a table exactly when it links DynamoDB");
        says("aws-sdk-sns", needs_sns(f), "only functions that publish (events, alerts) link SNS");
        says(
            "aws-sdk-ssm",
            f.needs(Need::Dealer) || f.needs(Need::PaymentProvider),
            "only the functions that call the dealer or the payment provider read a secret key from SSM",
        );
        says("bnb-toss-payments", f.needs(Need::PaymentProvider), "only the functions that call the payment provider link it");
        says("bnb-nhn-bizmessage", f.needs(Need::Dealer), "only the functions that call the dealer link it");
        says("aws-sdk-cognitoidentityprovider", f.needs(Need::UserPools), "only the functions that change the user pool link Cognito");
        says("aws-sdk-sqs", f.needs(Need::DeadLetters), "only consumers, for their dead letters, link SQS");
        says("aws-sdk-lambda", f.needs(Need::Payments), "only the synchronous payment call links Lambda's client");
        // One HTTPS stack: hyper 1 + rustls 0.23, not the SDK's legacy hyper 0.14 + rustls 0.21.
        for (package, legacy) in [("hyper", "0."), ("rustls", "0.21"), ("h2", "0.3")] {
            let present = graph.versions[f.name].get(package).cloned().unwrap_or_default();
            assert!(!present.iter().any(|v| v.starts_with(legacy)), "{}: links {package} {present:?}, a legacy HTTPS stack", f.name);
        }
    }
    let sns: Vec<&str> = REGISTRY.iter().filter(|f| graph.links(f.name).contains("aws-sdk-sns")).map(|f| f.name).collect();
    assert_eq!(sns, ["republish-outbox", "notification-handler", "publish-events"], "the functions that publish");
    let dealer: Vec<&str> = REGISTRY.iter().filter(|f| graph.links(f.name).contains("bnb-nhn-bizmessage")).map(|f| f.name).collect();
    assert_eq!(dealer, ["alimtalk-sender", "check-deliveries"]);
    let cognito: Vec<&str> = REGISTRY.iter().filter(|f| graph.links(f.name).contains("aws-sdk-cognitoidentityprovider")).map(|f| f.name).collect();
    assert_eq!(cognito, ["become-host", "enrol-guest"]);
    let lambda: Vec<&str> = REGISTRY.iter().filter(|f| graph.links(f.name).contains("aws-sdk-lambda")).map(|f| f.name).collect();
    assert_eq!(lambda, ["place-reservation"]);
}

#[test]
fn the_crates_depend_down_the_hexagon_never_back_up() {
    let graph = graph();
    let domain = graph.links("bnb-domain");
    for outside in ["tokio", "serde_json", "aws-config", "aws-sdk-dynamodb", "lambda_runtime", "http", "rusqlite", "bnb-contexts"] {
        assert!(!domain.contains(outside), "bnb-domain links {outside}: the domain does no I/O and knows no format beyond serde");
    }
    let contexts = graph.links("bnb-contexts");
    for outside in [
        "aws-config",
        "aws-sdk-dynamodb",
        "aws-sdk-sns",
        "aws-sdk-sqs",
        "aws-sdk-lambda",
        "lambda_runtime",
        "lambda_http",
        "http",
        "rusqlite",
        "bnb-lambda",
        "bnb-embedded",
    ] {
        assert!(!contexts.contains(outside), "bnb-contexts links {outside}: use cases speak only through their ports");
    }
    for adapter in [
        "bnb-aws-dynamodb",
        "bnb-aws-dynamodb-streams",
        "bnb-aws-sns",
        "bnb-aws-sqs",
        "bnb-aws-lambda",
        "bnb-aws-ssm",
        "bnb-aws-cognito",
        "bnb-nhn-bizmessage",
        "bnb-embedded",
    ] {
        let links = graph.links(adapter);
        for edge in ["bnb-lambda", "lambda_runtime", "lambda_http"] {
            assert!(!links.contains(edge), "{adapter} links {edge}: an adapter never reaches up to the entry points");
        }
        assert!(REGISTRY.iter().all(|f| !links.contains(f.name)), "{adapter} links a function");
    }
    let edge = graph.links("bnb-lambda");
    for adapter in
        ["aws-sdk-dynamodb", "aws-sdk-sns", "aws-sdk-sqs", "aws-sdk-lambda", "aws-sdk-ssm", "aws-sdk-cognitoidentityprovider", "bnb-nhn-bizmessage", "rusqlite"]
    {
        assert!(!edge.contains(adapter), "bnb-lambda links {adapter}: each main picks its adapters, the edge links none");
    }
}

#[test]
fn each_main_hands_over_exactly_the_adapters_of_its_needs() {
    for f in REGISTRY {
        let main = std::fs::read_to_string(root().join("functions").join(f.name).join("src/main.rs")).unwrap();
        let uses = |adapter: &str| main.contains(adapter);
        assert_eq!(uses("bnb_aws_dynamodb::tables"), needs_table(f), "{}: main.rs and the table need", f.name);
        assert_eq!(uses("bnb_aws_sns::topic"), f.needs.iter().any(|n| matches!(n, Need::Topic(_))), "{}: main.rs and the topic need", f.name);
        assert_eq!(uses("bnb_nhn_bizmessage::dealer"), f.needs(Need::Dealer), "{}: main.rs and the dealer need", f.name);
        assert_eq!(
            uses("bnb_aws_ssm::secret"),
            f.needs(Need::Dealer) || f.needs(Need::PaymentProvider),
            "{}: main.rs links the SSM secrets exactly when it has a dealer or a provider to give a key",
            f.name
        );
        assert_eq!(uses("bnb_aws_cognito::user_pools"), f.needs(Need::UserPools), "{}: main.rs and the user pools need", f.name);
        assert_eq!(uses("bnb_aws_sqs::dead_letters"), f.needs(Need::DeadLetters), "{}: main.rs and the DLQ need", f.name);
        assert_eq!(uses("bnb_aws_lambda::payments"), f.needs(Need::Payments), "{}: main.rs and the payment need", f.name);
        assert_eq!(uses("bnb_toss_payments::provider"), f.needs(Need::PaymentProvider), "{}: main.rs and the payment provider need", f.name);
        assert!(main.contains(&format!("{}::FUNCTION", f.name.replace('-', "_"))), "{}: main.rs runs its own declaration", f.name);
        assert!(main.lines().count() <= 20, "{}: a main is a few lines ({})", f.name, main.lines().count());
    }
}

/// The variables `template.yaml` sets that point at a resource: a function may be given only
/// what it declared, and must be given all of it.
fn resource_variables(environment: &BTreeMap<String, String>) -> BTreeSet<String> {
    environment
        .keys()
        .filter(|k| {
            k.ends_with("_TABLE")
                || k.ends_with("_TOPIC_ARN")
                || ["DEAD_LETTER_QUEUE_URL", "PAYMENT_FUNCTION_NAME", "ALIMTALK_SECRET_KEY_PARAMETER", "TOSS_SECRET_KEY_PARAMETER"].contains(&k.as_str())
        })
        .cloned()
        .collect()
}

#[test]
fn the_registry_the_template_and_events_name_the_same_functions() {
    let topology = topology();
    let registry: BTreeSet<&str> = REGISTRY.iter().map(|f| f.name).collect();
    assert_eq!(registry.len(), REGISTRY.len(), "a function is declared twice");
    let template: BTreeSet<&str> = topology.functions.iter().map(|f| f.binary.as_str()).collect();
    assert_eq!(registry, template, "the registry and template.yaml");
    let mut events: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if file == "env.json" {
            continue;
        }
        let owner = REGISTRY.iter().filter(|f| file.starts_with(&format!("{}-", f.name))).max_by_key(|f| f.name.len());
        let owner = owner.unwrap_or_else(|| panic!("events/{file} is named after no declared function"));
        events.insert(owner.name.to_owned());
    }
    assert_eq!(events, registry.iter().map(|s| s.to_string()).collect(), "every declared function has a sample event, and only they do");

    for decl in &topology.functions {
        let f = REGISTRY.iter().find(|f| f.name == decl.binary).unwrap();
        let trigger = match decl.triggers.first() {
            Some(Declared::Http { .. }) => Trigger::Http,
            Some(Declared::Sqs { .. }) => Trigger::Sqs,
            Some(Declared::Stream { .. }) => Trigger::Stream,
            Some(Declared::Schedule { .. }) | None => Trigger::Invoke,
        };
        assert_eq!(f.trigger, trigger, "{}: the declared trigger and the template's event", f.name);
        let declared: BTreeSet<String> = f.needs.iter().filter_map(Need::variable).map(str::to_owned).collect();
        assert_eq!(declared, resource_variables(&decl.environment), "{}: what it declares it needs and what the template points it at", f.name);
    }
}
