//! Reads `template.yaml`, the single source of truth for what runs where: routes, tables and
//! their streams, topics, queues and their DLQs, filtered subscriptions, and each function's
//! triggers, batch sizes, retries, environment and timeout. CloudFormation's short-form tags
//! (`!Ref`, `!GetAtt`, `!Sub`) and their long forms are resolved to local names and ARNs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use serde_yaml_ng::value::{Tag, TaggedValue};

use crate::event_filter::EventPattern;

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "local";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(String),
    #[error("template.yaml: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDecl {
    pub logical_id: String,
    pub name: String,
    pub indexes: Vec<String>,
    pub stream: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicDecl {
    pub logical_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDecl {
    pub logical_id: String,
    pub name: String,
    pub visibility_timeout_seconds: u32,
    pub dlq: Option<String>,
    pub max_receive_count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionDecl {
    pub topic: String,
    pub queue: String,
    pub filter_policy: Option<Value>,
    pub raw: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Http {
        method: String,
        path: String,
        authorized: bool,
    },
    Stream {
        table: String,
        batch_size: usize,
        maximum_retry_attempts: u32,
        bisect_on_error: bool,
        on_failure: Option<String>,
        report_failures: bool,
        /// `FilterCriteria`: only records one of these matches reach the function.
        filters: Vec<EventPattern>,
    },
    Sqs {
        queue: String,
        batch_size: usize,
        report_failures: bool,
        /// `ScalingConfig.MaximumConcurrency`: how many batches may run at once.
        maximum_concurrency: Option<usize>,
    },
    /// EventBridge `rate(...)`.
    Schedule {
        every: std::time::Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDecl {
    pub logical_id: String,
    /// The binary `cargo lambda` builds (`Metadata.BuildProperties.Binary`): what the local
    /// runtime links.
    pub binary: String,
    pub timeout_seconds: u32,
    /// `ReservedConcurrentExecutions`: at most this many executions at once (the rest throttled).
    pub reserved_concurrency: Option<u32>,
    pub environment: BTreeMap<String, String>,
    pub triggers: Vec<Trigger>,
    /// What its `Policies` let it do to each table (`bnb-local` refuses the rest, as IAM would).
    pub table_grants: crate::iam::Grants,
}

/// Everything the template declares that the runtime wires.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Topology {
    pub tables: Vec<TableDecl>,
    pub topics: Vec<TopicDecl>,
    pub queues: Vec<QueueDecl>,
    pub subscriptions: Vec<SubscriptionDecl>,
    pub functions: Vec<FunctionDecl>,
}

impl Topology {
    /// Reads a template and every nested application it names by a local path
    /// (`AWS::Serverless::Application` with `Location: stacks/rooms.yaml`), each with the
    /// parameters its parent passes, into one topology.
    pub fn load(path: &Path) -> Result<Topology, TemplateError> {
        Self::load_with(path, &BTreeMap::new())
    }

    /// As [`Topology::load`], with the root's parameters overridden (as `sam deploy
    /// --parameter-overrides` does); a name the root does not declare is refused.
    pub fn load_with(path: &Path, overrides: &BTreeMap<String, String>) -> Result<Topology, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read(path.display().to_string(), e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if !overrides.is_empty() {
            let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
            for name in overrides.keys() {
                if yaml.get("Parameters").and_then(|p| p.get(name.as_str())).is_none() {
                    return Err(TemplateError::Invalid(format!("parameter {name} is not one the template declares")));
                }
            }
        }
        Ok(parse_stack(&text, Some(base), overrides, 0)?.0)
    }

    /// One template on its own (a nested application needs [`Topology::load`], which knows where
    /// the template lives).
    pub fn parse(text: &str) -> Result<Topology, TemplateError> {
        Ok(parse_stack(text, None, &BTreeMap::new(), 0)?.0)
    }

    pub fn queue(&self, name: &str) -> Option<&QueueDecl> {
        self.queues.iter().find(|q| q.name == name)
    }

    pub fn function(&self, binary: &str) -> Option<&FunctionDecl> {
        self.functions.iter().find(|f| f.binary == binary)
    }

    fn merge(&mut self, other: Topology) {
        self.tables.extend(other.tables);
        self.topics.extend(other.topics);
        self.queues.extend(other.queues);
        self.subscriptions.extend(other.subscriptions);
        self.functions.extend(other.functions);
    }
}

/// How deep nested applications may go (a template that names itself would not end).
const MAX_NESTING: usize = 4;

/// One stack: its topology and its resolved `Outputs`. `given` holds the parameters its parent
/// passed (they win over the defaults).
fn parse_stack(text: &str, base: Option<&Path>, given: &BTreeMap<String, String>, depth: usize) -> Result<(Topology, Map<String, Value>), TemplateError> {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
    let raw = to_json(yaml);
    let resources = raw.get("Resources").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut parameters: BTreeMap<String, String> = raw
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.get("Default").map(scalar_text).unwrap_or_default())).collect())
        .unwrap_or_default();
    parameters.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut nested = Topology::default();

    // Nested applications first, each once the applications whose outputs it takes are read.
    let applications: Vec<String> =
        resources.iter().filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Application")).map(|(id, _)| id.clone()).collect();
    let mut outputs: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    while outputs.len() < applications.len() {
        let ready: Vec<&String> = applications
            .iter()
            .filter(|id| !outputs.contains_key(*id))
            .filter(|id| {
                let params = resources[*id].pointer("/Properties/Parameters").cloned().unwrap_or(Value::Null);
                applications.iter().filter(|other| !outputs.contains_key(*other)).all(|other| !names_attribute_of(&params, other))
            })
            .collect();
        let Some(id) = ready.first().map(|id| (*id).clone()) else {
            return Err(TemplateError::Invalid(format!("nested applications take each other's outputs in a cycle: {applications:?}")));
        };
        let resolver = Resolver { resources: &resources, parameters: parameters.clone(), outputs: &outputs };
        let app = resolver.resolve(&resources[&id]);
        let location = app.pointer("/Properties/Location").and_then(Value::as_str).ok_or_else(|| {
            TemplateError::Invalid(format!("nested application {id}: bnb-local reads a nested template by its local path (Location: stacks/x.yaml)"))
        })?;
        let base = base.ok_or_else(|| TemplateError::Invalid(format!("nested application {id}: load the template from its file")))?;
        if depth >= MAX_NESTING {
            return Err(TemplateError::Invalid(format!("nested application {id}: nested more than {MAX_NESTING} deep")));
        }
        let path = base.join(location);
        let text = std::fs::read_to_string(&path).map_err(|e| TemplateError::Read(path.display().to_string(), e.to_string()))?;
        let passed: BTreeMap<String, String> = app
            .pointer("/Properties/Parameters")
            .and_then(Value::as_object)
            .map(|p| p.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect())
            .unwrap_or_default();
        let (child, child_outputs) = parse_stack(&text, path.parent(), &passed, depth + 1)
            .map_err(|e| TemplateError::Invalid(format!("nested application {id} ({}): {e}", path.display())))?;
        nested.merge(child);
        outputs.insert(id, child_outputs);
    }

    let resolver = Resolver { resources: &resources, parameters, outputs: &outputs };
    rules_hold(raw.get("Rules"), &resolver)?;
    let resolved: Map<String, Value> = resources.iter().map(|(k, v)| (k.clone(), resolver.resolve(v))).collect();
    let globals = resolver.resolve(raw.get("Globals").and_then(|g| g.get("Function")).unwrap_or(&Value::Null));
    let stack_outputs: Map<String, Value> = raw
        .get("Outputs")
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), resolver.resolve(v.get("Value").unwrap_or(&Value::Null)))).collect())
        .unwrap_or_default();

    let mut topology = Topology::default();
    for (id, resource) in &resolved {
        let props = resource.get("Properties").cloned().unwrap_or(Value::Null);
        match resource.get("Type").and_then(Value::as_str).unwrap_or_default() {
            "AWS::DynamoDB::Table" => topology.tables.push(TableDecl {
                logical_id: id.clone(),
                name: resolver.local_name(id),
                indexes: props
                    .get("GlobalSecondaryIndexes")
                    .and_then(Value::as_array)
                    .map(|l| l.iter().filter_map(|i| i.get("IndexName").and_then(Value::as_str).map(str::to_owned)).collect())
                    .unwrap_or_default(),
                stream: props.get("StreamSpecification").is_some(),
            }),
            "AWS::SNS::Topic" => topology.topics.push(TopicDecl { logical_id: id.clone(), name: resolver.local_name(id) }),
            "AWS::SQS::Queue" => {
                let redrive = props.get("RedrivePolicy");
                topology.queues.push(QueueDecl {
                    logical_id: id.clone(),
                    name: resolver.local_name(id),
                    visibility_timeout_seconds: number(props.get("VisibilityTimeout")).unwrap_or(30) as u32,
                    dlq: redrive.and_then(|r| r.get("deadLetterTargetArn")).and_then(Value::as_str).map(name_from_arn),
                    max_receive_count: number(redrive.and_then(|r| r.get("maxReceiveCount"))).map(|n| n as u32),
                });
            }
            "AWS::SNS::Subscription" => {
                let protocol = props.get("Protocol").and_then(Value::as_str).unwrap_or_default();
                // A subscription for people (the ops topic's e-mail) has nothing to run here.
                if matches!(protocol, "email" | "email-json" | "sms") {
                    continue;
                }
                if protocol != "sqs" {
                    return Err(TemplateError::Invalid(format!("subscription {id}: bnb-local delivers only to SQS, not {protocol}")));
                }
                if let Some(scope) = props.get("FilterPolicyScope").and_then(Value::as_str) {
                    if scope != "MessageAttributes" {
                        return Err(TemplateError::Invalid(format!("subscription {id}: filter policy scope {scope} is not supported")));
                    }
                }
                topology.subscriptions.push(SubscriptionDecl {
                    topic: props.get("TopicArn").and_then(Value::as_str).map(name_from_arn).unwrap_or_default(),
                    queue: props.get("Endpoint").and_then(Value::as_str).map(name_from_arn).unwrap_or_default(),
                    filter_policy: props.get("FilterPolicy").cloned(),
                    raw: boolean(props.get("RawMessageDelivery")),
                });
            }
            "AWS::Serverless::Function" => topology.functions.push(function(id, resource, &props, &globals)?),
            _ => {}
        }
    }
    routes(&resolver, &resolved, &mut topology)?;
    nested.merge(topology);
    Ok((nested, stack_outputs))
}

/// Whether `value` takes an attribute (an output) of the resource `id`.
fn names_attribute_of(value: &Value, id: &str) -> bool {
    match value {
        Value::Object(o) => o.iter().any(|(k, v)| match (k.as_str(), v) {
            ("Fn::GetAtt", Value::Array(parts)) => parts.first().and_then(Value::as_str) == Some(id),
            ("Fn::Sub", _) => v.to_string().contains(&format!("${{{id}.")),
            _ => names_attribute_of(v, id),
        }),
        Value::Array(a) => a.iter().any(|v| names_attribute_of(v, id)),
        _ => false,
    }
}

/// Routes declared as API Gateway resources (`AWS::ApiGatewayV2::Route` with its
/// `AWS::ApiGatewayV2::Integration`), as a stack that serves an API another stack owns declares
/// them: each becomes its function's HTTP trigger. `AuthorizationType` NONE (the default) is open.
fn routes(resolver: &Resolver<'_>, resolved: &Map<String, Value>, topology: &mut Topology) -> Result<(), TemplateError> {
    let of_type = |kind: &'static str| resolved.iter().filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind));
    for (id, route) in of_type("AWS::ApiGatewayV2::Route") {
        let props = route.get("Properties").cloned().unwrap_or(Value::Null);
        let key = props.get("RouteKey").and_then(Value::as_str).unwrap_or_default();
        let (method, path) = key.split_once(' ').ok_or_else(|| TemplateError::Invalid(format!("route {id}: RouteKey {key:?} is not \"METHOD /path\"")))?;
        let target = props.get("Target").map(scalar_text).unwrap_or_default();
        let integration = target.strip_prefix("integrations/").unwrap_or_default();
        let (_, integration) = of_type("AWS::ApiGatewayV2::Integration")
            .find(|(iid, _)| scalar_text(&resolver.reference(iid)) == integration)
            .ok_or_else(|| TemplateError::Invalid(format!("route {id}: its Target {target:?} names no integration of this stack")))?;
        let uri = integration.pointer("/Properties/IntegrationUri").map(scalar_text).unwrap_or_default();
        // `!GetAtt F.Arn`, `!Ref FAliaslive` or `arn:...:function:name[:alias]`: the function's local name.
        let name = uri.split(":function:").nth(1).map(|rest| rest.split(':').next().unwrap_or(rest)).unwrap_or(&uri).to_owned();
        let function = topology
            .functions
            .iter_mut()
            .find(|f| local_name(&f.logical_id, "AWS::Serverless::Function") == name)
            .ok_or_else(|| TemplateError::Invalid(format!("route {id}: its integration calls {uri:?}, not a function of this stack")))?;
        let authorized = props.get("AuthorizationType").and_then(Value::as_str).is_some_and(|t| t != "NONE");
        function.triggers.push(Trigger::Http { method: method.to_uppercase(), path: path.to_owned(), authorized });
    }
    Ok(())
}

fn function(id: &str, resource: &Value, props: &Value, globals: &Value) -> Result<FunctionDecl, TemplateError> {
    let binary = resource
        .pointer("/Metadata/BuildProperties/Binary")
        .and_then(Value::as_str)
        .ok_or_else(|| TemplateError::Invalid(format!("function {id} names no binary (Metadata.BuildProperties.Binary)")))?
        .to_owned();
    let mut environment = BTreeMap::new();
    for source in [globals, props] {
        if let Some(vars) = source.pointer("/Environment/Variables").and_then(Value::as_object) {
            environment.extend(vars.iter().map(|(k, v)| (k.clone(), scalar_text(v))));
        }
    }
    let timeout = number(props.get("Timeout")).or_else(|| number(globals.get("Timeout"))).unwrap_or(3) as u32;
    let mut triggers = Vec::new();
    for (name, event) in props.get("Events").and_then(Value::as_object).cloned().unwrap_or_default() {
        let p = event.get("Properties").cloned().unwrap_or(Value::Null);
        let reports = p.get("FunctionResponseTypes").and_then(Value::as_array).is_some_and(|l| l.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures")));
        let trigger = match event.get("Type").and_then(Value::as_str).unwrap_or_default() {
            "HttpApi" => Trigger::Http {
                method: p.get("Method").and_then(Value::as_str).unwrap_or("ANY").to_uppercase(),
                path: p.get("Path").and_then(Value::as_str).unwrap_or("/").to_owned(),
                authorized: p.pointer("/Auth/Authorizer").and_then(Value::as_str) != Some("NONE"),
            },
            "DynamoDB" => Trigger::Stream {
                table: p.get("Stream").and_then(Value::as_str).map(table_from_stream_arn).unwrap_or_default(),
                batch_size: number(p.get("BatchSize")).unwrap_or(100) as usize,
                maximum_retry_attempts: number(p.get("MaximumRetryAttempts")).unwrap_or(10_000) as u32,
                bisect_on_error: boolean(p.get("BisectBatchOnFunctionError")),
                on_failure: p.pointer("/DestinationConfig/OnFailure/Destination").and_then(Value::as_str).map(name_from_arn),
                report_failures: reports,
                filters: filters(id, &name, &p)?,
            },
            "SQS" => Trigger::Sqs {
                queue: p.get("Queue").and_then(Value::as_str).map(name_from_arn).unwrap_or_default(),
                batch_size: number(p.get("BatchSize")).unwrap_or(10) as usize,
                report_failures: reports,
                maximum_concurrency: number(p.pointer("/ScalingConfig/MaximumConcurrency")).map(|n| n as usize),
            },
            "Schedule" => {
                let expression = p.get("Schedule").and_then(Value::as_str).unwrap_or_default();
                let every = parse_rate(expression)
                    .ok_or_else(|| TemplateError::Invalid(format!("function {id}: schedule {expression:?} is not a rate(...) bnb-local can run")))?;
                Trigger::Schedule { every }
            }
            other => return Err(TemplateError::Invalid(format!("function {id}: event {name} has type {other}, which bnb-local cannot run"))),
        };
        triggers.push(trigger);
    }
    let reserved_concurrency =
        number(props.get("ReservedConcurrentExecutions").or_else(|| globals.get("ReservedConcurrentExecutions"))).map(|n| n.max(0) as u32);
    let table_grants = crate::iam::grants(props.get("Policies").unwrap_or(&Value::Null));
    Ok(FunctionDecl { logical_id: id.to_owned(), binary, timeout_seconds: timeout, reserved_concurrency, environment, triggers, table_grants })
}

/// An event source's `FilterCriteria.Filters[].Pattern`, each a JSON text.
fn filters(id: &str, event: &str, properties: &Value) -> Result<Vec<EventPattern>, TemplateError> {
    let list = properties.pointer("/FilterCriteria/Filters").and_then(Value::as_array).cloned().unwrap_or_default();
    list.iter()
        .map(|f| {
            let text = f.get("Pattern").and_then(Value::as_str).unwrap_or_default();
            EventPattern::parse(text).map_err(|e| TemplateError::Invalid(format!("function {id}: event {event}: {e}")))
        })
        .collect()
}

/// `rate(1 minute)`, `rate(5 minutes)`, `rate(1 hour)`.
fn parse_rate(expression: &str) -> Option<std::time::Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let seconds = match unit.trim().trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(n * seconds))
}

/// The local name of a resource: `RoomsTable` → `rooms`, `DomainEventsTopic` → `domain-events`,
/// `ViewProjectorQueue` → `view-projector-queue`.
pub fn local_name(logical_id: &str, resource_type: &str) -> String {
    let trimmed = match resource_type {
        "AWS::DynamoDB::Table" => logical_id.strip_suffix("Table").unwrap_or(logical_id),
        "AWS::SNS::Topic" => logical_id.strip_suffix("Topic").unwrap_or(logical_id),
        _ => logical_id,
    };
    let mut out = String::new();
    let chars: Vec<char> = trimmed.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 && (chars[i - 1].is_lowercase() || chars.get(i + 1).is_some_and(|n| n.is_lowercase())) {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The last part of an ARN (`arn:aws:sqs:local:0:view-projector-queue` → `view-projector-queue`).
pub fn name_from_arn(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or(arn).to_owned()
}

fn table_from_stream_arn(arn: &str) -> String {
    arn.split("table/").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default().to_owned()
}

struct Resolver<'a> {
    resources: &'a Map<String, Value>,
    parameters: BTreeMap<String, String>,
    /// Each nested application's resolved outputs (`!GetAtt App.Outputs.Name`).
    outputs: &'a BTreeMap<String, Map<String, Value>>,
}

impl Resolver<'_> {
    fn resource_type(&self, id: &str) -> Option<&str> {
        self.resources.get(id).and_then(|r| r.get("Type")).and_then(Value::as_str)
    }

    fn local_name(&self, id: &str) -> String {
        local_name(id, self.resource_type(id).unwrap_or_default())
    }

    /// What `!Ref` gives: a parameter's value, a table's or queue's name... as CloudFormation
    /// does (a topic's `!Ref` is its ARN, a queue's its URL).
    fn reference(&self, id: &str) -> Value {
        if let Some(p) = self.parameters.get(id) {
            return Value::String(p.clone());
        }
        match id {
            "AWS::Region" => return Value::String(REGION.into()),
            "AWS::AccountId" => return Value::String(ACCOUNT.into()),
            "AWS::StackName" => return Value::String("bnb-local".into()),
            "AWS::URLSuffix" => return Value::String("localhost".into()),
            "AWS::Partition" => return Value::String("aws".into()),
            _ => {}
        }
        // SAM's `<Function>Alias<name>` (from AutoPublishAlias): the function, locally.
        if self.resource_type(id).is_none() {
            if let Some((function, _alias)) = id.split_once("Alias") {
                if self.resource_type(function) == Some("AWS::Serverless::Function") {
                    return Value::String(self.local_name(function));
                }
            }
        }
        let name = self.local_name(id);
        Value::String(match self.resource_type(id) {
            Some("AWS::SNS::Topic") => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}"),
            Some("AWS::SQS::Queue") => format!("http://localhost/{ACCOUNT}/{name}"),
            _ => name,
        })
    }

    fn attribute(&self, id: &str, attr: &str) -> Value {
        if let (Some(outputs), Some(output)) = (self.outputs.get(id), attr.strip_prefix("Outputs.")) {
            return outputs.get(output).cloned().unwrap_or(Value::Null);
        }
        let name = self.local_name(id);
        Value::String(match (self.resource_type(id), attr) {
            (Some("AWS::SQS::Queue"), "Arn") => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            (Some("AWS::SQS::Queue"), "QueueName") => name,
            (Some("AWS::DynamoDB::Table"), "Arn") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
            }
            (Some("AWS::DynamoDB::Table"), "StreamArn") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}/stream/local")
            }
            (Some("AWS::Serverless::Function"), "Arn") => format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            (Some("AWS::SNS::Topic"), "TopicName") => name,
            (Some("AWS::SNS::Topic"), _) => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}"),
            _ => format!("arn:aws:local:{REGION}:{ACCOUNT}:{id}.{attr}"),
        })
    }

    fn substitute(&self, text: &str, vars: &Map<String, Value>) -> Value {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + end];
            let value = match vars.get(name) {
                Some(v) => scalar_text(&self.resolve(v)),
                None => match name.split_once('.') {
                    Some((id, attr)) if !name.starts_with("AWS::") => scalar_text(&self.attribute(id, attr)),
                    _ => scalar_text(&self.reference(name)),
                },
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Value::String(out)
    }

    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or(("", &Value::Null));
                match k {
                    "Ref" => self.reference(&scalar_text(v)),
                    "Fn::GetAtt" => {
                        let (id, attr) = match v {
                            Value::Array(parts) => (parts.first().map(scalar_text).unwrap_or_default(), parts.get(1).map(scalar_text).unwrap_or_default()),
                            other => {
                                let text = scalar_text(other);
                                let (a, b) = text.split_once('.').unwrap_or((&text, "Arn"));
                                (a.to_owned(), b.to_owned())
                            }
                        };
                        self.attribute(&id, &attr)
                    }
                    "Fn::Sub" => match v {
                        Value::String(s) => self.substitute(s, &Map::new()),
                        Value::Array(parts) => {
                            let vars = parts.get(1).and_then(Value::as_object).cloned().unwrap_or_default();
                            self.substitute(&parts.first().map(scalar_text).unwrap_or_default(), &vars)
                        }
                        other => other.clone(),
                    },
                    "Fn::Join" => {
                        let sep = v.get(0).map(scalar_text).unwrap_or_default();
                        let items = v.get(1).and_then(Value::as_array).cloned().unwrap_or_default();
                        Value::String(items.iter().map(|i| scalar_text(&self.resolve(i))).collect::<Vec<_>>().join(&sep))
                    }
                    _ => Value::Object(o.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
                }
            }
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }
}

/// A template's `Rules`, checked as CloudFormation checks them before it changes anything: each
/// rule whose `RuleCondition` holds (or that has none) needs every `Assert` to hold, or the
/// stack is refused with the assertion's `AssertDescription`.
fn rules_hold(rules: Option<&Value>, resolver: &Resolver<'_>) -> Result<(), TemplateError> {
    let Some(rules) = rules.and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, rule) in rules {
        let applies = match rule.get("RuleCondition") {
            Some(condition) => truth(condition, resolver).map_err(|e| TemplateError::Invalid(format!("rule {name}: {e}")))?,
            None => true,
        };
        if !applies {
            continue;
        }
        for assertion in rule.get("Assertions").and_then(Value::as_array).into_iter().flatten() {
            let holds = truth(assertion.get("Assert").unwrap_or(&Value::Null), resolver).map_err(|e| TemplateError::Invalid(format!("rule {name}: {e}")))?;
            if !holds {
                let why = assertion.get("AssertDescription").map(scalar_text).unwrap_or_else(|| "an assertion does not hold".into());
                return Err(TemplateError::Invalid(format!("rule {name}: {why}")));
            }
        }
    }
    Ok(())
}

/// The rule functions bnb's templates use (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`,
/// `Fn::Contains`), over parameters; any other is named, never taken as true.
fn truth(value: &Value, resolver: &Resolver<'_>) -> Result<bool, String> {
    let Some((function, args)) = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return Err(format!("{value} is not a rule function"));
    };
    let list = || args.as_array().map(Vec::as_slice).unwrap_or_default();
    let text = |v: &Value| scalar_text(&resolver.resolve(v));
    match function.as_str() {
        "Fn::Equals" => match list() {
            [a, b] => Ok(text(a) == text(b)),
            _ => Err("Fn::Equals takes two values".into()),
        },
        "Fn::Not" => match list() {
            [a] => Ok(!truth(a, resolver)?),
            _ => Err("Fn::Not takes one condition".into()),
        },
        "Fn::And" => list().iter().try_fold(true, |all, c| Ok(all && truth(c, resolver)?)),
        "Fn::Or" => list().iter().try_fold(false, |any, c| Ok(any || truth(c, resolver)?)),
        "Fn::Contains" => match list() {
            [values, one] => {
                let one = text(one);
                Ok(resolver.resolve(values).as_array().is_some_and(|l| l.iter().any(|v| scalar_text(v) == one)))
            }
            _ => Err("Fn::Contains takes a list and a value".into()),
        },
        other => Err(format!("bnb-local does not evaluate {other} in a rule")),
    }
}

/// YAML to JSON, turning CloudFormation's short-form tags into their long forms.
fn to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => n.as_i64().map(Value::from).or_else(|| n.as_f64().map(Value::from)).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    (
                        match k {
                            Y::String(s) => s,
                            other => scalar_text(&to_json(other)),
                        },
                        to_json(v),
                    )
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let TaggedValue { tag, value } = *tagged;
            let name = tag_name(&tag);
            let key = if name == "Ref" || name == "Condition" { name } else { format!("Fn::{name}") };
            let mut inner = to_json(value);
            if key == "Fn::GetAtt" {
                if let Value::String(s) = &inner {
                    let parts: Vec<Value> = s.splitn(2, '.').map(|p| Value::String(p.to_owned())).collect();
                    inner = Value::Array(parts);
                }
            }
            Value::Object(Map::from_iter([(key, inner)]))
        }
    }
}

fn tag_name(tag: &Tag) -> String {
    tag.to_string().trim_start_matches('!').to_owned()
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn boolean(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags_resolve() {
        assert_eq!(local_name("RoomsTable", "AWS::DynamoDB::Table"), "rooms");
        assert_eq!(local_name("DomainEventsTopic", "AWS::SNS::Topic"), "domain-events");
        assert_eq!(local_name("ViewProjectorDLQ", "AWS::SQS::Queue"), "view-projector-dlq");
        let t = Topology::parse(
            r#"
Parameters:
  Stage: { Type: String, Default: dev }
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        ROOMS_TABLE: !Ref RoomsTable
        TOPIC: !Ref EventsTopic
        NAME: !Sub "bnb-${Stage}-${AWS::Region}"
Resources:
  RoomsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      StreamSpecification: { StreamViewType: NEW_AND_OLD_IMAGES }
      GlobalSecondaryIndexes: [{ IndexName: gsi1 }]
  EventsTopic: { Type: AWS::SNS::Topic }
  WorkDLQ: { Type: AWS::SQS::Queue }
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: { deadLetterTargetArn: !GetAtt WorkDLQ.Arn, maxReceiveCount: 5 }
  Sub:
    Type: AWS::SNS::Subscription
    Properties:
      Protocol: sqs
      TopicArn: !Ref EventsTopic
      Endpoint: { "Fn::GetAtt": [WorkQueue, Arn] }
      RawMessageDelivery: true
      FilterPolicy: { eventType: [RoomRegistered] }
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: worker } }
    Properties:
      Events:
        Stream:
          Type: DynamoDB
          Properties: { Stream: !GetAtt RoomsTable.StreamArn, BatchSize: 25, MaximumRetryAttempts: 3, FunctionResponseTypes: [ReportBatchItemFailures], DestinationConfig: { OnFailure: { Destination: !GetAtt WorkDLQ.Arn } }, FilterCriteria: { Filters: [ { Pattern: '{"eventName": ["INSERT"]}' } ] } }
        Queue:
          Type: SQS
          Properties: { Queue: !GetAtt WorkQueue.Arn, BatchSize: 4 }
"#,
        )
        .unwrap();
        assert_eq!(t.tables[0].name, "rooms");
        assert_eq!(t.tables[0].indexes, ["gsi1"]);
        let q = t.queue("work-queue").unwrap();
        assert_eq!((q.visibility_timeout_seconds, q.dlq.as_deref(), q.max_receive_count), (60, Some("work-dlq"), Some(5)));
        assert_eq!(
            t.subscriptions[0],
            SubscriptionDecl {
                topic: "events".into(),
                queue: "work-queue".into(),
                filter_policy: Some(serde_json::json!({"eventType": ["RoomRegistered"]})),
                raw: true
            }
        );
        let f = t.function("worker").unwrap();
        assert_eq!(f.timeout_seconds, 7);
        assert_eq!(f.environment["ROOMS_TABLE"], "rooms");
        assert_eq!(f.environment["TOPIC"], "arn:aws:sns:local:000000000000:events");
        assert_eq!(f.environment["NAME"], "bnb-dev-local");
        assert!(f.triggers.contains(&Trigger::Stream {
            table: "rooms".into(),
            batch_size: 25,
            maximum_retry_attempts: 3,
            bisect_on_error: false,
            on_failure: Some("work-dlq".into()),
            report_failures: true,
            filters: vec![EventPattern::parse(r#"{"eventName": ["INSERT"]}"#).unwrap()],
        }));
        assert!(f.triggers.contains(&Trigger::Sqs { queue: "work-queue".into(), batch_size: 4, report_failures: false, maximum_concurrency: None }));
        assert!(Topology::parse("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {}\n").is_err(), "no binary");
    }
    /// A root template with two nested applications, one taking the other's output, and a
    /// function routed through raw API Gateway resources: all one topology, every name resolved.
    #[test]
    fn nested_applications_and_api_gateway_routes_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stacks")).unwrap();
        std::fs::write(
            dir.path().join("template.yaml"),
            r#"
Parameters:
  Stage: { Type: String, Default: dev }
Resources:
  HttpApi: { Type: AWS::ApiGatewayV2::Api }
  Backbone:
    Type: AWS::Serverless::Application
    Properties:
      Location: stacks/backbone.yaml
  Rooms:
    Type: AWS::Serverless::Application
    Properties:
      Location: stacks/rooms.yaml
      Parameters:
        Stage: !Ref Stage
        ApiId: !Ref HttpApi
        DomainEventsTopicArn: !GetAtt Backbone.Outputs.DomainEventsTopicArn
Outputs:
  RoomsTableName:
    Value: !GetAtt Rooms.Outputs.RoomsTableName
"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("stacks/backbone.yaml"),
            "Resources:\n  DomainEventsTopic: { Type: AWS::SNS::Topic }\nOutputs:\n  DomainEventsTopicArn: { Value: !Ref DomainEventsTopic }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("stacks/rooms.yaml"),
            r#"
Parameters:
  Stage: { Type: String }
  ApiId: { Type: String }
  DomainEventsTopicArn: { Type: String }
Resources:
  RoomsTable: { Type: AWS::DynamoDB::Table }
  RoomHandlerQueue: { Type: AWS::SQS::Queue }
  RoomHandlerSubscription:
    Type: AWS::SNS::Subscription
    Properties: { Protocol: sqs, TopicArn: !Ref DomainEventsTopicArn, Endpoint: !GetAtt RoomHandlerQueue.Arn, RawMessageDelivery: true }
  GetRoomFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: get-room } }
    Properties:
      Environment: { Variables: { ROOMS_TABLE: !Ref RoomsTable, TOPIC: !Ref DomainEventsTopicArn, NAME: !Sub "bnb-${Stage}" } }
  RegisterRoomFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: register-room } }
  GetRoomIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: { ApiId: !Ref ApiId, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt GetRoomFunction.Arn }
  GetRoomRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref ApiId, RouteKey: "GET /rooms/{roomId}", Target: !Sub "integrations/${GetRoomIntegration}" }
  RegisterRoomIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: { ApiId: !Ref ApiId, IntegrationType: AWS_PROXY, IntegrationUri: !Ref RegisterRoomFunctionAliaslive }
  RegisterRoomRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref ApiId, RouteKey: "POST /rooms", AuthorizationType: JWT, Target: !Join ["/", [integrations, !Ref RegisterRoomIntegration]] }
Outputs:
  RoomsTableName: { Value: !Ref RoomsTable }
"#,
        )
        .unwrap();
        let t = Topology::load(&dir.path().join("template.yaml")).unwrap();
        assert_eq!(t.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["rooms"]);
        assert_eq!(t.topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["domain-events"]);
        assert_eq!(t.subscriptions[0].topic, "domain-events", "the topic ARN, passed from one nested stack to the other");
        let get_room = t.function("get-room").unwrap();
        assert_eq!(get_room.environment["TOPIC"], "arn:aws:sns:local:000000000000:domain-events");
        assert_eq!(get_room.environment["NAME"], "bnb-dev", "the root's parameter, passed down");
        assert_eq!(get_room.triggers, [Trigger::Http { method: "GET".into(), path: "/rooms/{roomId}".into(), authorized: false }]);
        assert_eq!(t.function("register-room").unwrap().triggers, [Trigger::Http { method: "POST".into(), path: "/rooms".into(), authorized: true }]);
        // Without its file's place, a nested application cannot be found: said, not guessed.
        let root = std::fs::read_to_string(dir.path().join("template.yaml")).unwrap();
        assert!(matches!(Topology::parse(&root), Err(TemplateError::Invalid(e)) if e.contains("Backbone") || e.contains("Rooms")));
    }

    /// Rules hold or refuse as CloudFormation's do: a rule whose condition fails is skipped, a
    /// failed assertion names the rule and says its description, and a function bnb-local does
    /// not know is named rather than taken as true.
    #[test]
    fn rules_are_checked_with_the_parameters_given() {
        let template = r#"
Parameters:
  Stage: {Type: String, Default: dev}
  Regions: {Type: CommaDelimitedList, Default: "a,b"}
Rules:
  ProdOnlyInA:
    RuleCondition: !And [!Equals [!Ref Stage, prod], !Not [!Equals [!Ref Stage, dev]]]
    Assertions:
      - Assert: !Or [!Equals [!Ref "AWS::Region", us-east-1], !Contains [[x, y], x]]
        AssertDescription: always holds
      - Assert: !Equals [!Ref Stage, staging]
        AssertDescription: prod is refused here
Resources: {}
"#;
        let given = |stage: &str| BTreeMap::from([("Stage".to_owned(), stage.to_owned())]);
        assert!(parse_stack(template, None, &given("dev"), 0).is_ok(), "the rule does not apply in dev");
        let refused = parse_stack(template, None, &given("prod"), 0).unwrap_err().to_string();
        assert!(refused.contains("rule ProdOnlyInA: prod is refused here"), "{refused}");
        let unknown = template.replace("!Equals [!Ref Stage, staging]", "!EachMemberEquals [!Ref Regions, a]");
        let refused = parse_stack(&unknown, None, &given("prod"), 0).unwrap_err().to_string();
        assert!(refused.contains("does not evaluate Fn::EachMemberEquals"), "{refused}");
    }
}
