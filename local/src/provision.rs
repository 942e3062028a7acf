//! Creates the template's table, queues, event bus and rules on an emulator
//! (or any AWS endpoint), under a stack name of the caller's choosing. Tests
//! use a random name each, so every test has fresh resources.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_eventbridge::types::{InputTransformer, RuleState, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::template::{Names, Resource, Template, Unresolved};
use tel_engine::config::{Config, QueueUrls, Settings};

const TABLE: &str = "AWS::DynamoDB::Table";
const QUEUE: &str = "AWS::SQS::Queue";
const BUS: &str = "AWS::Events::EventBus";
const RULE: &str = "AWS::Events::Rule";
const BUCKET: &str = "AWS::S3::Bucket";
const PROVISIONED: [&str; 5] = [TABLE, QUEUE, BUS, RULE, BUCKET];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    pub name: String,
    pub url: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInfo {
    pub name: String,
    pub event_bus_name: String,
    pub target_ids: Vec<String>,
}

/// What was created, by the template's logical ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalStack {
    pub stack_name: String,
    pub region: String,
    pub table_name: String,
    /// The table's change stream, which the local runner reads (the publisher's source).
    pub table_stream_arn: Option<String>,
    pub event_bus_name: String,
    pub event_bus_arn: String,
    /// The bucket payloads over the threshold go to.
    pub payload_bucket: Option<String>,
    pub queues: BTreeMap<String, QueueInfo>,
    pub rules: Vec<RuleInfo>,
    /// Resources the local stack does not create (functions, policies, alarms…).
    pub skipped: Vec<String>,
    /// The template's parameters as used: defaults and overrides.
    pub parameters: BTreeMap<String, String>,
}

pub async fn provision(
    sdk: &SdkConfig,
    template: &Template,
    stack_name: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<LocalStack> {
    let mut names = Names {
        stack_name: stack_name.to_owned(),
        region: sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into()),
        parameters: template.parameters.clone(),
        ..Names::default()
    };
    names.parameters.extend(overrides.clone());
    let mut stack = LocalStack::empty(stack_name, &names.region, names.parameters.clone());
    let mut creatable = Vec::new();
    for resource in &template.resources {
        if PROVISIONED.contains(&resource.kind.as_str())
            && template
                .includes(resource, &names)
                .with_context(|| format!("the condition of {}", resource.logical_id))?
        {
            creatable.push(resource.logical_id.as_str());
        }
    }
    let mut pending: Vec<&Resource> = Vec::new();
    for resource in &template.resources {
        // Left out: what only AWS runs (functions, policies, alarms…), what a
        // condition leaves out, and a rule aimed at something only AWS runs
        // (a function: the local runner's job).
        let local = creatable.contains(&resource.logical_id.as_str())
            && references(&resource.properties)
                .iter()
                .all(|r| creatable.contains(&r.as_str()) || template.parameters.contains_key(r));
        if local {
            pending.push(resource);
        } else {
            stack
                .skipped
                .push(format!("{} ({})", resource.logical_id, resource.kind));
        }
    }
    let clients = Clients::new(sdk);
    while !pending.is_empty() {
        let mut waiting = Vec::new();
        let mut reasons = Vec::new();
        for resource in pending.iter().copied() {
            let properties = match names.resolve(&resource.properties) {
                Ok(p) => p,
                Err(Unresolved::Pending(what)) => {
                    reasons.push(format!("{} waits for {what}", resource.logical_id));
                    waiting.push(resource);
                    continue;
                }
                Err(e) => bail!("{}: {e}", resource.logical_id),
            };
            clients
                .create(resource, &properties, &mut names, &mut stack)
                .await
                .with_context(|| format!("creating {} ({})", resource.logical_id, resource.kind))?;
        }
        if waiting.len() == pending.len() {
            bail!("unresolvable references: {}", reasons.join("; "));
        }
        pending = waiting;
    }
    Ok(stack)
}

/// Logical ids a property tree refers to through `!Ref`/`!GetAtt` (pseudo parameters and parameters excluded by the caller).
pub fn references(value: &serde_yaml::Value) -> Vec<String> {
    use serde_yaml::Value as Y;
    let mut out = Vec::new();
    match value {
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            match (tag.as_str(), &t.value) {
                ("!Ref", Y::String(s))
                    if !s.starts_with("AWS::")
                        && s.chars().next().is_some_and(char::is_uppercase) =>
                {
                    out.push(s.clone());
                }
                ("!GetAtt", Y::String(s)) => out.extend(s.split('.').next().map(str::to_owned)),
                _ => out.extend(references(&t.value)),
            }
        }
        Y::Sequence(items) => items.iter().for_each(|i| out.extend(references(i))),
        Y::Mapping(map) => map.values().for_each(|v| out.extend(references(v))),
        _ => {}
    }
    out
}

struct Clients {
    dynamo: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    s3: aws_sdk_s3::Client,
}

fn text(properties: &Value, field: &str) -> Result<String> {
    properties
        .get(field)
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .ok_or_else(|| anyhow!("property {field} is missing"))
}

fn key_schema(value: &Value) -> Result<Vec<KeySchemaElement>> {
    value
        .as_array()
        .context("KeySchema must be a list")?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName")?)
                .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                .build()?)
        })
        .collect()
}

impl Clients {
    fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            streams: aws_sdk_dynamodbstreams::Client::new(sdk),
            s3: tel_aws::s3::client(sdk),
        }
    }

    async fn create(
        &self,
        resource: &Resource,
        p: &Value,
        names: &mut Names,
        stack: &mut LocalStack,
    ) -> Result<()> {
        let id = resource.logical_id.clone();
        match resource.kind.as_str() {
            TABLE => {
                let (name, arn, stream_arn) = self.table(p).await?;
                stack.table_name = name.clone();
                names.refs.insert(id.clone(), name);
                names.attributes.insert((id.clone(), "Arn".into()), arn);
                if let Some(stream_arn) = &stream_arn {
                    names
                        .attributes
                        .insert((id, "StreamArn".into()), stream_arn.clone());
                }
                stack.table_stream_arn = stream_arn;
            }
            QUEUE => {
                let queue = self.queue(p).await?;
                names.refs.insert(id.clone(), queue.url.clone());
                names
                    .attributes
                    .insert((id.clone(), "Arn".into()), queue.arn.clone());
                names
                    .attributes
                    .insert((id.clone(), "QueueName".into()), queue.name.clone());
                names
                    .attributes
                    .insert((id.clone(), "QueueUrl".into()), queue.url.clone());
                stack.queues.insert(id, queue);
            }
            BUS => {
                let name = text(p, "Name")?;
                let arn = self.bus(&name).await?;
                stack.event_bus_name = name.clone();
                stack.event_bus_arn = arn.clone();
                names.refs.insert(id.clone(), name.clone());
                names.attributes.insert((id.clone(), "Arn".into()), arn);
                names.attributes.insert((id, "Name".into()), name);
            }
            RULE => {
                let (rule, arn) = self.rule(p).await?;
                names.refs.insert(id.clone(), rule.name.clone());
                names.attributes.insert((id, "Arn".into()), arn);
                stack.rules.push(rule);
            }
            BUCKET => {
                // CloudFormation names a bucket without a BucketName; locally the stack does.
                let name = text(p, "BucketName")
                    .unwrap_or_else(|_| format!("{}-{}", names.stack_name, id.to_lowercase()));
                self.bucket(&name, p).await?;
                names.refs.insert(id.clone(), name.clone());
                names
                    .attributes
                    .insert((id, "Arn".into()), format!("arn:aws:s3:::{name}"));
                stack.payload_bucket = Some(name);
            }
            other => bail!("{other} is not provisioned locally"),
        }
        Ok(())
    }

    async fn table(&self, p: &Value) -> Result<(String, String, Option<String>)> {
        let name = text(p, "TableName")?;
        let attributes = p["AttributeDefinitions"]
            .as_array()
            .context("AttributeDefinitions")?
            .iter()
            .map(|a| {
                Ok(AttributeDefinition::builder()
                    .attribute_name(text(a, "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(
                        text(a, "AttributeType")?.as_str(),
                    ))
                    .build()?)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut indexes = Vec::new();
        for gsi in p["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
            let projection = &gsi["Projection"];
            let non_key = projection["NonKeyAttributes"].as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            });
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(text(gsi, "IndexName")?)
                    .set_key_schema(Some(key_schema(&gsi["KeySchema"])?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                text(projection, "ProjectionType")?.as_str(),
                            ))
                            .set_non_key_attributes(non_key)
                            .build(),
                    )
                    .build()?,
            );
        }
        let stream = match p["StreamSpecification"]["StreamViewType"].as_str() {
            Some(view) => Some(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view))
                    .build()?,
            ),
            None => None,
        };
        let created = self
            .dynamo
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(&p["KeySchema"])?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .set_stream_specification(stream)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => {
                return Err(anyhow!(
                    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
                ));
            }
        }
        let ttl = &p["TimeToLiveSpecification"];
        if ttl["Enabled"] == Value::Bool(true) {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(text(ttl, "AttributeName")?)
                .enabled(true)
                .build()?;
            // Already enabled on a re-run: fine.
            let _ = self
                .dynamo
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(spec)
                .send()
                .await;
        }
        let described = self
            .dynamo
            .describe_table()
            .table_name(&name)
            .send()
            .await?;
        let table = described.table();
        let arn = table
            .and_then(|t| t.table_arn())
            .unwrap_or_default()
            .to_owned();
        let stream_arn = table.and_then(|t| t.latest_stream_arn()).map(str::to_owned);
        if let Some(stream_arn) = &stream_arn {
            self.stream_enabled(stream_arn).await?;
        }
        Ok((name, arn, stream_arn))
    }

    /// Waits until the change stream records writes: a write made while it is
    /// still ENABLING is not in it (LocalStack drops those for about half a
    /// second after CreateTable, and may not know the stream at first), and
    /// its events would never be published.
    async fn stream_enabled(&self, stream_arn: &str) -> Result<()> {
        use aws_sdk_dynamodbstreams::types::StreamStatus;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let status = match self
                .streams
                .describe_stream()
                .stream_arn(stream_arn)
                .send()
                .await
            {
                Ok(described) => described.stream_description.and_then(|d| d.stream_status),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(e) => return Err(anyhow!(e).context("DescribeStream")),
            };
            if status == Some(StreamStatus::Enabled) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                bail!("the table's stream {stream_arn} is not enabled after 60 s: {status:?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// The bucket, private and encrypted as the template says.
    async fn bucket(&self, name: &str, p: &Value) -> Result<()> {
        match self.s3.create_bucket().bucket(name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                }) => {}
            Err(e) => {
                return Err(anyhow!(
                    aws_sdk_s3::error::DisplayErrorContext(e).to_string()
                ));
            }
        }
        if p.get("PublicAccessBlockConfiguration").is_some() {
            let block = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build();
            self.s3
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(block)
                .send()
                .await?;
        }
        Ok(())
    }

    async fn queue(&self, p: &Value) -> Result<QueueInfo> {
        let name = text(p, "QueueName")?;
        let mut attributes = std::collections::HashMap::new();
        for field in [
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "MaximumMessageSize",
            "FifoQueue",
            "ContentBasedDeduplication",
        ] {
            if let Ok(value) = text(p, field) {
                attributes.insert(QueueAttributeName::from(field), value);
            }
        }
        if let Some(redrive) = p.get("RedrivePolicy") {
            let redrive = match redrive {
                Value::String(s) => s.clone(),
                other => {
                    // maxReceiveCount arrives as text from a parameter; SQS wants a number.
                    let mut policy = other.clone();
                    if let Some(Value::String(count)) = policy.get("maxReceiveCount") {
                        policy["maxReceiveCount"] =
                            Value::from(count.parse::<i64>().context("maxReceiveCount")?);
                    }
                    policy.to_string()
                }
            };
            attributes.insert(QueueAttributeName::RedrivePolicy, redrive);
        }
        let url = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| anyhow!(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?
            .queue_url
            .context("CreateQueue returned no URL")?;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .context("queue has no ARN")?;
        Ok(QueueInfo { name, url, arn })
    }

    async fn bus(&self, name: &str) -> Result<String> {
        match self.events.create_event_bus().name(name).send().await {
            Ok(out) => Ok(out.event_bus_arn.unwrap_or_default()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                let described = self.events.describe_event_bus().name(name).send().await?;
                Ok(described.arn.unwrap_or_default())
            }
            Err(e) => Err(anyhow!(
                aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()
            )),
        }
    }

    async fn rule(&self, p: &Value) -> Result<(RuleInfo, String)> {
        let name = text(p, "Name")?;
        let bus = text(p, "EventBusName").unwrap_or_else(|_| "default".into());
        let state = if p.get("State").and_then(Value::as_str) == Some("DISABLED") {
            RuleState::Disabled
        } else {
            RuleState::Enabled
        };
        let out = self
            .events
            .put_rule()
            .name(&name)
            .event_bus_name(&bus)
            .set_event_pattern(p.get("EventPattern").map(Value::to_string))
            .set_schedule_expression(
                p.get("ScheduleExpression")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
            .state(state)
            .send()
            .await
            .map_err(|e| anyhow!(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))?;
        let mut targets = Vec::new();
        for t in p["Targets"].as_array().into_iter().flatten() {
            let transformer = match t.get("InputTransformer") {
                Some(it) => Some(
                    InputTransformer::builder()
                        .set_input_paths_map(
                            it.get("InputPathsMap").and_then(Value::as_object).map(|m| {
                                m.iter()
                                    .map(|(k, v)| {
                                        (k.clone(), v.as_str().unwrap_or_default().to_owned())
                                    })
                                    .collect()
                            }),
                        )
                        .input_template(text(it, "InputTemplate")?)
                        .build()?,
                ),
                None => None,
            };
            targets.push(
                Target::builder()
                    .id(text(t, "Id")?)
                    .arn(text(t, "Arn")?)
                    .set_input(t.get("Input").and_then(Value::as_str).map(str::to_owned))
                    .set_input_path(
                        t.get("InputPath")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    )
                    .set_input_transformer(transformer)
                    .build()?,
            );
        }
        let target_ids = targets.iter().map(|t| t.id().to_owned()).collect();
        if !targets.is_empty() {
            self.events
                .put_targets()
                .rule(&name)
                .event_bus_name(&bus)
                .set_targets(Some(targets))
                .send()
                .await?;
        }
        let rule = RuleInfo {
            name,
            event_bus_name: bus,
            target_ids,
        };
        Ok((rule, out.rule_arn.unwrap_or_default()))
    }
}

/// `RequestsDeadLetterQueue` → `REQUESTS_DEAD_LETTER_QUEUE`.
pub fn screaming_snake(logical_id: &str) -> String {
    let mut out = String::new();
    for (i, c) in logical_id.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

impl LocalStack {
    /// A stack of nothing yet, named `stack_name` in `region`.
    pub fn empty(stack_name: &str, region: &str, parameters: BTreeMap<String, String>) -> Self {
        Self {
            stack_name: stack_name.to_owned(),
            region: region.to_owned(),
            table_name: String::new(),
            table_stream_arn: None,
            event_bus_name: String::new(),
            event_bus_arn: String::new(),
            payload_bucket: None,
            queues: BTreeMap::new(),
            rules: Vec::new(),
            skipped: Vec::new(),
            parameters,
        }
    }

    pub fn queue(&self, logical_id: &str) -> Result<&QueueInfo> {
        self.queues
            .get(logical_id)
            .ok_or_else(|| anyhow!("the template has no queue {logical_id}"))
    }

    pub fn config(&self) -> Result<Config> {
        self.config_with(Settings::default())
    }

    /// The configuration with these settings, but the queues' receive count:
    /// handlers give up on a message on the delivery the queues dead-letter it.
    pub fn config_with(&self, settings: Settings) -> Result<Config> {
        Ok(Config {
            table_name: self.table_name.clone(),
            event_bus_name: self.event_bus_name.clone(),
            payload_bucket: self.payload_bucket.clone(),
            queues: QueueUrls {
                requests: self.queue("RequestsQueue")?.url.clone(),
                validate: self.queue("ValidateQueue")?.url.clone(),
                execute: self.queue("ExecuteQueue")?.url.clone(),
                manual: self.queue("ManualQueue")?.url.clone(),
                validate_priority: self
                    .queues
                    .get("ValidatePriorityQueue")
                    .map(|q| q.url.clone()),
                execute_priority: self
                    .queues
                    .get("ExecutePriorityQueue")
                    .map(|q| q.url.clone()),
            },
            settings: Settings {
                max_receive_count: self
                    .parameters
                    .get("MaxReceiveCount")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(5),
                ..settings
            },
        })
    }

    /// The variables a function (or a shell) needs to reach this stack.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("AWS_REGION".to_owned(), self.region.clone()),
            ("TEL_STACK_NAME".to_owned(), self.stack_name.clone()),
            ("TEL_TABLE_NAME".to_owned(), self.table_name.clone()),
            ("TEL_EVENT_BUS_NAME".to_owned(), self.event_bus_name.clone()),
        ];
        if let Some(bucket) = &self.payload_bucket {
            vars.push(("TEL_PAYLOAD_BUCKET".to_owned(), bucket.clone()));
        }
        for (id, queue) in &self.queues {
            vars.push((
                format!("TEL_{}_URL", screaming_snake(id)),
                queue.url.clone(),
            ));
        }
        vars
    }

    /// Deletes what `provision` created.
    pub async fn destroy(&self, sdk: &SdkConfig) -> Result<()> {
        let clients = Clients::new(sdk);
        for rule in &self.rules {
            if !rule.target_ids.is_empty() {
                let _ = clients
                    .events
                    .remove_targets()
                    .rule(&rule.name)
                    .event_bus_name(&rule.event_bus_name)
                    .set_ids(Some(rule.target_ids.clone()))
                    .send()
                    .await;
            }
            let _ = clients
                .events
                .delete_rule()
                .name(&rule.name)
                .event_bus_name(&rule.event_bus_name)
                .send()
                .await;
        }
        if !self.event_bus_name.is_empty() {
            let _ = clients
                .events
                .delete_event_bus()
                .name(&self.event_bus_name)
                .send()
                .await;
        }
        for queue in self.queues.values() {
            let _ = clients
                .sqs
                .delete_queue()
                .queue_url(&queue.url)
                .send()
                .await;
        }
        if !self.table_name.is_empty() {
            let _ = clients
                .dynamo
                .delete_table()
                .table_name(&self.table_name)
                .send()
                .await;
        }
        if let Some(bucket) = &self.payload_bucket {
            let listed = clients.s3.list_objects_v2().bucket(bucket).send().await;
            for object in listed
                .map(|l| l.contents.unwrap_or_default())
                .unwrap_or_default()
            {
                if let Some(key) = object.key {
                    let _ = clients
                        .s3
                        .delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await;
                }
            }
            let _ = clients.s3.delete_bucket().bucket(bucket).send().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_become_environment_names() {
        assert_eq!(screaming_snake("RequestsQueue"), "REQUESTS_QUEUE");
        assert_eq!(
            screaming_snake("RequestsDeadLetterQueue"),
            "REQUESTS_DEAD_LETTER_QUEUE"
        );
    }
}
