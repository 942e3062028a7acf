//! The SAM template is the single source of the infrastructure: every role is
//! least-privilege, and the local stack is what the template says.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_yaml::Value as Yaml;
use tel_local::template::{Names, Resource, Template};
use tel_tests::TestStack;

/// An index as (name, key schema, projection type).
type IndexShape = (String, Vec<(String, String)>, String);

/// The statement inside `!If [cond, statement, !Ref AWS::NoValue]`, or the statement itself.
/// Actions IAM takes no resource for.
const UNSCOPABLE_ACTIONS: [&str; 5] = [
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

fn statements(policy: &Yaml) -> Vec<Yaml> {
    let mut out = Vec::new();
    for statement in policy["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements")
    {
        match statement {
            Yaml::Tagged(t) if t.tag == "If" => out.push(t.value[1].clone()),
            other => out.push(other.clone()),
        }
    }
    out
}

fn listed(value: &Yaml) -> Vec<Yaml> {
    match value {
        Yaml::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    }
}

#[test]
fn every_function_role_names_specific_actions_and_resources() {
    let template = Template::embedded();
    let roles: Vec<&Resource> = template.of_kind("AWS::IAM::Role").collect();
    assert_eq!(roles.len(), 8, "one role per function");
    for role in roles {
        let policies = role.properties["Policies"]
            .as_sequence()
            .expect("inline policies");
        assert!(
            role.properties.get("ManagedPolicyArns").is_none(),
            "{}: no managed policies",
            role.logical_id
        );
        for policy in policies {
            for statement in statements(policy) {
                assert_eq!(statement["Effect"], Yaml::from("Allow"));
                for action in listed(&statement["Action"]) {
                    let action = action.as_str().expect("actions are literal");
                    assert!(
                        !action.contains('*'),
                        "{}: wildcard action {action}",
                        role.logical_id
                    );
                    assert!(
                        action.contains(':'),
                        "{}: {action} names no service",
                        role.logical_id
                    );
                }
                // Answers to Step Functions task tokens cannot be scoped: IAM
                // has no resource for a token a service integration issued.
                let unscopable = listed(&statement["Action"]).iter().all(|a| {
                    UNSCOPABLE_ACTIONS.contains(&a.as_str().expect("actions are literal"))
                });
                for resource in listed(&statement["Resource"]) {
                    // Every resource is a reference to one of the template's own (or a parameter's list).
                    match resource {
                        Yaml::String(text) if unscopable && text == "*" => {}
                        Yaml::Tagged(t) => {
                            assert_ne!(t.value.as_str(), Some("*"), "{}", role.logical_id)
                        }
                        Yaml::String(text) => panic!(
                            "{}: literal resource {text:?}; name the template's resources",
                            role.logical_id
                        ),
                        other => panic!("{}: unexpected resource {other:?}", role.logical_id),
                    }
                }
            }
        }
    }
    for function in template.of_kind("AWS::Serverless::Function") {
        let role = function.properties["Role"].clone();
        assert!(
            matches!(role, Yaml::Tagged(_)),
            "{}: an explicit role, so SAM adds no broad policies",
            function.logical_id
        );
        assert!(
            function.properties.get("Policies").is_none(),
            "{}",
            function.logical_id
        );
    }
}

#[test]
fn every_queue_consumer_reports_item_failures_and_outlasts_its_function() {
    let template = Template::embedded();
    let number = |name: &str| template.parameters[name].parse::<u64>().unwrap();
    for function in template.of_kind("AWS::Serverless::Function") {
        let timeout = match &function.properties["Timeout"] {
            Yaml::Number(n) => n.as_u64().unwrap(),
            Yaml::Tagged(t) => number(t.value.as_str().unwrap()),
            _ => 30,
        };
        for (_, event) in function.properties["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] != "SQS" {
                continue;
            }
            let props = &event["Properties"];
            assert_eq!(
                props["FunctionResponseTypes"],
                serde_yaml::from_str::<Yaml>("[ReportBatchItemFailures]").unwrap(),
                "{}",
                function.logical_id
            );
            let Yaml::Tagged(queue) = &props["Queue"] else {
                panic!("queue by reference")
            };
            let queue_id = queue.value.as_str().unwrap().trim_end_matches(".Arn");
            let queue = template
                .resources
                .iter()
                .find(|r| r.logical_id == queue_id)
                .unwrap();
            let Yaml::Tagged(visibility) = &queue.properties["VisibilityTimeout"] else {
                panic!("{queue_id}: visibility from a parameter")
            };
            let visibility = number(visibility.value.as_str().unwrap());
            assert!(
                visibility >= timeout,
                "{queue_id}: visibility {visibility}s under {}'s timeout {timeout}s",
                function.logical_id
            );
        }
    }
}

#[test]
fn only_the_functions_that_answer_step_functions_may_and_the_example_is_wired() {
    let template = Template::embedded();
    let mut answering: Vec<(String, String)> = Vec::new();
    for role in template.of_kind("AWS::IAM::Role") {
        for policy in role.properties["Policies"].as_sequence().unwrap() {
            for statement in statements(policy) {
                for action in listed(&statement["Action"]) {
                    let action = action.as_str().unwrap();
                    if action.starts_with("states:") {
                        answering.push((role.logical_id.clone(), action.to_owned()));
                    }
                }
            }
        }
    }
    answering.sort();
    let expected = [
        ("PublisherRole", "states:SendTaskFailure"),
        ("PublisherRole", "states:SendTaskSuccess"),
        ("SweeperRole", "states:SendTaskHeartbeat"),
    ]
    .map(|(r, a)| (r.to_owned(), a.to_owned()));
    assert_eq!(answering, expected);

    let machine = template
        .of_kind("AWS::Serverless::StateMachine")
        .next()
        .expect("the example state machine");
    let uri = machine.properties["DefinitionUri"].as_str().unwrap();
    let asl = std::fs::read_to_string(format!("{}/../infra/{uri}", env!("CARGO_MANIFEST_DIR")))
        .expect("the definition the template names");
    let substitutions = machine.properties["DefinitionSubstitutions"]
        .as_mapping()
        .unwrap();
    for key in substitutions.keys() {
        let placeholder = format!("${{{}}}", key.as_str().unwrap());
        assert!(asl.contains(&placeholder), "{placeholder} is used");
    }
    let parsed: Value = serde_json::from_str(&asl).expect("the ASL is JSON");
    for (name, state) in parsed["States"].as_object().unwrap() {
        if state["Type"] == "Task" {
            let body = &state["Parameters"]["MessageBody"];
            assert_eq!(body["taskToken.$"], "$$.Task.Token", "{name}");
            assert_eq!(
                state["Resource"],
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
            );
        }
    }
}

#[test]
fn the_publisher_reads_every_task_write_and_never_skips_one_silently() {
    let template = Template::embedded();
    let table = template.of_kind("AWS::DynamoDB::Table").next().unwrap();
    assert_eq!(
        table.properties["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES",
        "the publisher needs the new image, and the old one's version"
    );
    let publisher = template
        .of_kind("AWS::Serverless::Function")
        .find(|f| f.logical_id == "PublisherFunction")
        .expect("a publisher function");
    let source = &publisher.properties["Events"]["TaskChanges"]["Properties"];
    assert_eq!(
        publisher.properties["Events"]["TaskChanges"]["Type"],
        "DynamoDB"
    );
    assert_eq!(
        source["FunctionResponseTypes"],
        serde_yaml::from_str::<Yaml>("[ReportBatchItemFailures]").unwrap()
    );
    assert_eq!(source["StartingPosition"], "TRIM_HORIZON");
    // Side by side within a shard only by partition key, which keeps each
    // task's order: every write of a task is under its own key.
    assert!(
        matches!(&source["ParallelizationFactor"], Yaml::Tagged(t) if t.tag == "Ref" && t.value == "PublisherParallelization"),
        "{:?}",
        source["ParallelizationFactor"]
    );
    assert_eq!(template.parameters["PublisherParallelization"], "4");
    let id = tel_core::domain::TaskInstanceId::new();
    assert_eq!(tel_aws::dynamo::keys::task_pk(id), format!("TASK#{id}"));
    assert_eq!(source["BisectBatchOnFunctionError"], Yaml::Bool(true));
    assert_eq!(source["MaximumRetryAttempts"], Yaml::from(-1));
    let pattern: Value = serde_json::from_str(
        source["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({ "dynamodb": { "NewImage": { "itemType": { "S": ["task"] } } } }),
        "only task items wake the publisher"
    );
    let Yaml::Tagged(failures) = &source["DestinationConfig"]["OnFailure"]["Destination"] else {
        panic!("batches given up on go somewhere")
    };
    assert_eq!(failures.value.as_str(), Some("PublisherFailureQueue.Arn"));
    // The item type the filter names is the one the store writes.
    let written = tel_aws::dynamo::keys::ITEM_TYPE;
    assert_eq!(written, "itemType");
}

/// The function and its role, by the function's logical id.
fn function<'a>(template: &'a Template, id: &str) -> &'a Resource {
    template
        .of_kind("AWS::Serverless::Function")
        .find(|f| f.logical_id == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

/// The resources a role's statements allow `action` on, as written.
fn allowed(template: &Template, role: &str, action: &str) -> Vec<String> {
    let role = template
        .of_kind("AWS::IAM::Role")
        .find(|r| r.logical_id == role)
        .unwrap_or_else(|| panic!("no {role}"));
    let mut out = Vec::new();
    for policy in role.properties["Policies"].as_sequence().unwrap() {
        for statement in statements(policy) {
            if listed(&statement["Action"]).contains(&Yaml::from(action)) {
                for resource in listed(&statement["Resource"]) {
                    out.push(serde_yaml::to_string(&resource).unwrap().trim().to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn the_api_is_throttled_and_payload_reads_are_confined() {
    let template = Template::embedded();
    // A flood of API calls is refused at the gateway and cannot take the
    // pipeline's concurrency.
    let api = template
        .of_kind("AWS::Serverless::HttpApi")
        .next()
        .expect("the HTTP API");
    let throttling = &api.properties["DefaultRouteSettings"];
    for (setting, parameter) in [
        ("ThrottlingRateLimit", "ApiThrottlingRateLimit"),
        ("ThrottlingBurstLimit", "ApiThrottlingBurstLimit"),
    ] {
        let Yaml::Tagged(value) = &throttling[setting] else {
            panic!("{setting} is set from a parameter")
        };
        assert_eq!(value.value.as_str(), Some(parameter));
    }
    let Yaml::Tagged(reserved) =
        &function(&template, "ApiFunction").properties["ReservedConcurrentExecutions"]
    else {
        panic!("the api function's concurrency is reserved")
    };
    assert_eq!(reserved.value.as_str(), Some("ApiReservedConcurrency"));

    // The router adopts request inputs only; no role writes under requests/
    // but the API's uploads, and only under requests/api/.
    assert_eq!(
        allowed(&template, "RouterRole", "s3:GetObject"),
        ["!Sub ${PayloadBucket.Arn}/requests/*"]
    );
    for role in [
        "ValidatorRole",
        "ExecutorRole",
        "ManualAssignRole",
        "PublisherRole",
        "ApiRole",
    ] {
        let reads = allowed(&template, role, "s3:GetObject");
        assert!(
            !reads.is_empty()
                && reads
                    .iter()
                    .all(|r| r.ends_with("/tasks/*") || r.ends_with("/requests/*")),
            "{role}: {reads:?}"
        );
    }
    let writes = allowed(&template, "ApiRole", "s3:PutObject");
    assert!(
        writes.iter().any(|w| w.ends_with("/requests/api/*")),
        "{writes:?}"
    );
    assert!(
        writes
            .iter()
            .all(|w| w.ends_with("/tasks/*") || w.ends_with("/requests/api/*"))
    );

    // Integration secrets: the executor reads under the prefix its code checks.
    let secrets = allowed(&template, "ExecutorRole", "secretsmanager:GetSecretValue");
    assert!(
        secrets[0].contains("secret:${IntegrationSecretsPrefix}*"),
        "{secrets:?}"
    );
    let doc: Yaml = serde_yaml::from_str(tel_local::template::TEMPLATE_YAML).unwrap();
    let Yaml::Tagged(prefix) =
        &doc["Globals"]["Function"]["Environment"]["Variables"]["TEL_INTEGRATION_SECRETS_PREFIX"]
    else {
        panic!("every function knows the prefix")
    };
    assert_eq!(prefix.value.as_str(), Some("IntegrationSecretsPrefix"));

    // Only the orchestrators' sources start tasks through the bus.
    let rule = template
        .of_kind("AWS::Events::Rule")
        .find(|r| r.logical_id == "TaskRequestedRule")
        .unwrap();
    let Yaml::Tagged(sources) = &rule.properties["EventPattern"]["source"] else {
        panic!("the rule names its sources")
    };
    assert!(
        serde_yaml::to_string(&sources.value)
            .unwrap()
            .contains("OrchestratorSources")
    );
}

#[test]
fn the_sweeper_runs_on_a_schedule_rule() {
    // An EventBridge rule fires on AWS and LocalStack alike (Scheduler's
    // schedules do not fire on LocalStack community).
    let template = Template::embedded();
    let sweep = &function(&template, "SweeperFunction").properties["Events"]["Sweep"];
    assert_eq!(sweep["Type"], "Schedule");
    let Yaml::Tagged(schedule) = &sweep["Properties"]["Schedule"] else {
        panic!("the schedule is a parameter")
    };
    assert_eq!(schedule.value.as_str(), Some("SweepSchedule"));
}

#[tokio::test]
async fn the_local_stack_is_what_the_template_says() {
    let overrides: BTreeMap<String, String> = [
        ("VisibilityTimeoutSeconds".to_owned(), "2".to_owned()),
        ("MaxReceiveCount".to_owned(), "3".to_owned()),
        // The opt-in example queue too, so its settings are checked.
        ("ExampleOrchestratorQueue".to_owned(), "true".to_owned()),
    ]
    .into();
    let t = TestStack::with(overrides.clone(), Default::default())
        .await
        .unwrap();
    let template = Template::embedded();
    let mut names = Names {
        stack_name: t.stack.stack_name.clone(),
        region: t.stack.region.clone(),
        parameters: template.parameters.clone(),
        ..Names::default()
    };
    names.parameters.extend(overrides);
    for (id, queue) in &t.stack.queues {
        names.refs.insert(id.clone(), queue.url.clone());
        names
            .attributes
            .insert((id.clone(), "Arn".into()), queue.arn.clone());
        names
            .attributes
            .insert((id.clone(), "QueueName".into()), queue.name.clone());
    }
    names
        .refs
        .insert("EventBus".into(), t.stack.event_bus_name.clone());
    names.attributes.insert(
        ("EventBus".into(), "Arn".into()),
        t.stack.event_bus_arn.clone(),
    );
    names
        .refs
        .insert("TasksTable".into(), t.stack.table_name.clone());

    // The table: keys, attributes, indexes, TTL.
    let dynamo = aws_sdk_dynamodb::Client::new(&t.sdk);
    let table_decl = names
        .resolve(
            &template
                .of_kind("AWS::DynamoDB::Table")
                .next()
                .unwrap()
                .properties,
        )
        .unwrap();
    let described = dynamo
        .describe_table()
        .table_name(&t.stack.table_name)
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let declared_keys = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_owned(),
                    k["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        keys(table.key_schema()),
        declared_keys(&table_decl["KeySchema"])
    );
    let mut attributes: Vec<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    let mut declared_attributes: Vec<(String, String)> = table_decl["AttributeDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap().to_owned(),
                a["AttributeType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    attributes.sort();
    declared_attributes.sort();
    assert_eq!(attributes, declared_attributes);
    let mut indexes: Vec<IndexShape> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap().to_owned(),
                keys(g.key_schema()),
                g.projection()
                    .unwrap()
                    .projection_type()
                    .unwrap()
                    .as_str()
                    .to_owned(),
            )
        })
        .collect();
    let mut declared_indexes: Vec<IndexShape> = table_decl["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["IndexName"].as_str().unwrap().to_owned(),
                declared_keys(&g["KeySchema"]),
                g["Projection"]["ProjectionType"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    indexes.sort();
    declared_indexes.sort();
    assert_eq!(indexes, declared_indexes);
    assert_eq!(
        table
            .stream_specification()
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str()),
        table_decl["StreamSpecification"]["StreamViewType"].as_str()
    );
    assert!(t.stack.table_stream_arn.is_some());
    // The payload bucket.
    let bucket = t.stack.payload_bucket.clone().expect("the payload bucket");
    tel_aws::s3::client(&t.sdk)
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ttl = dynamo
        .describe_time_to_live()
        .table_name(&t.stack.table_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description().unwrap().attribute_name(),
        table_decl["TimeToLiveSpecification"]["AttributeName"].as_str()
    );

    // Every queue, with its visibility, retention and redrive policy.
    let sqs = t.sqs();
    let queues: Vec<&Resource> = template
        .of_kind("AWS::SQS::Queue")
        .filter(|q| template.includes(q, &names).unwrap())
        .collect();
    assert_eq!(queues.len(), t.stack.queues.len());
    for decl in queues {
        let declared = names.resolve(&decl.properties).unwrap();
        let queue = &t.stack.queues[&decl.logical_id];
        assert_eq!(queue.name, declared["QueueName"].as_str().unwrap());
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let attr = |name: &str| {
            attrs
                .get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
                .cloned()
        };
        for field in ["VisibilityTimeout", "MessageRetentionPeriod"] {
            if let Some(value) = declared.get(field) {
                // A parameter resolves to text, a literal may be a number.
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                assert_eq!(
                    attr(field).as_deref(),
                    Some(value.as_str()),
                    "{}.{field}",
                    decl.logical_id
                );
            }
        }
        match declared.get("RedrivePolicy") {
            Some(redrive) => {
                let actual: Value =
                    serde_json::from_str(&attr("RedrivePolicy").expect("a redrive policy"))
                        .unwrap();
                assert_eq!(
                    actual["deadLetterTargetArn"], redrive["deadLetterTargetArn"],
                    "{}",
                    decl.logical_id
                );
                assert_eq!(
                    actual["maxReceiveCount"].to_string().trim_matches('"'),
                    redrive["maxReceiveCount"].as_str().unwrap(),
                    "{}",
                    decl.logical_id
                );
            }
            None => assert!(attr("RedrivePolicy").is_none(), "{}", decl.logical_id),
        }
    }

    // The bus, and every rule whose targets exist locally, with its pattern and targets.
    let events = aws_sdk_eventbridge::Client::new(&t.sdk);
    events
        .describe_event_bus()
        .name(&t.stack.event_bus_name)
        .send()
        .await
        .unwrap();
    let local_rules: Vec<&Resource> = template
        .of_kind("AWS::Events::Rule")
        .filter(|r| r.properties.get("EventPattern").is_some())
        .filter(|r| template.includes(r, &names).unwrap())
        .collect();
    assert_eq!(local_rules.len(), t.stack.rules.len());
    for decl in local_rules {
        let declared = names.resolve(&decl.properties).unwrap();
        let name = declared["Name"].as_str().unwrap();
        let rule = events
            .describe_rule()
            .name(name)
            .event_bus_name(&t.stack.event_bus_name)
            .send()
            .await
            .unwrap();
        let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(pattern, declared["EventPattern"], "{name}");
        let targets = events
            .list_targets_by_rule()
            .rule(name)
            .event_bus_name(&t.stack.event_bus_name)
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
        let declared_arns: Vec<&str> = declared["Targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["Arn"].as_str().unwrap())
            .collect();
        assert_eq!(arns, declared_arns, "{name}");
    }
}

#[test]
fn x_ray_tracing_is_one_switch_off_by_default_and_grants_only_segment_writes() {
    let template = Template::embedded();
    assert_eq!(template.parameters["Tracing"], "PassThrough");
    assert!(template.conditions.contains_key("TracingActive"));
    let globals: Yaml = serde_yaml::from_str(include_str!("../../infra/template.yaml")).unwrap();
    assert!(
        matches!(&globals["Globals"]["Function"]["Tracing"], Yaml::Tagged(t) if t.tag == "Ref" && t.value == "Tracing"),
        "every function follows the switch"
    );
    for role in template.of_kind("AWS::IAM::Role") {
        let traced: Vec<Yaml> = role.properties["Policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|p| {
                p["PolicyDocument"]["Statement"]
                    .as_sequence()
                    .unwrap()
                    .clone()
            })
            .filter_map(|s| match s {
                Yaml::Tagged(t) if t.tag == "If" && t.value[0] == "TracingActive" => {
                    Some(t.value[1].clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(traced.len(), 1, "{}", role.logical_id);
        assert_eq!(
            listed(&traced[0]["Action"]),
            [
                Yaml::from("xray:PutTraceSegments"),
                Yaml::from("xray:PutTelemetryRecords")
            ],
            "{}",
            role.logical_id
        );
    }
}
