//! The shipped shape: `infra/template.yaml` deployed on LocalStack by
//! `tel deploy --local`, every function a real `bootstrap` run by LocalStack's
//! Lambda behind the template's event source mappings, schedule and rules.
//! Only the real ways in are used: the requests queue, the bus and the HTTP
//! API (whose gateway stand-in hands requests to the deployed api function).
//! Each test breaks when a line of the template it rests on is wrong (the
//! stream filter, an event source mapping's response types, the redrive
//! policy, the schedule, a function's environment).
//!
//! These need a deployed stack, so they are ignored by a plain run;
//! `scripts/test` deploys one on LocalStack and runs them with
//! `--run-ignored only`. Tests share the stack: each names its own definitions.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tel_tests::api::As;
use tel_tests::deployed::Deployed;
use tel_tests::{fake_service, random_name, request};

const WAIT: Duration = Duration::from_secs(90);
const NEEDS_A_STACK: &str = "needs a deployed stack: scripts/test deploys one on LocalStack";

async fn register(d: &Deployed, definition: Value) {
    let name = definition["name"].as_str().unwrap().to_owned();
    let (status, body) = d
        .api
        .call(
            &As::admin(),
            Method::PUT,
            &format!("/definitions/{name}"),
            Some(definition),
        )
        .await;
    assert!(
        status == StatusCode::CREATED,
        "registering {name}: {status} {body}"
    );
}

fn script(name: &str, source: &str) -> Value {
    json!({
        "name": name, "type": "automated",
        "implementation": { "kind": "javascript", "source": source },
        "inputSchema": { "type": "object", "required": ["n"] },
        "retry": { "maxAttempts": 1 }
    })
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn automated_tasks_run_end_to_end_and_a_duplicate_request_is_one_task() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let name = random_name("double");
    register(
        &d,
        script(&name, "export default (i) => ({ doubled: i.n * 2 })"),
    )
    .await;
    let mut events = d.watch_events().await.unwrap();
    let requests: Vec<Value> = (1..=4).map(|n| request(&name, json!({ "n": n }))).collect();
    let mut bodies: Vec<String> = requests.iter().map(Value::to_string).collect();
    bodies.push(requests[0].to_string());
    d.send_requests(&bodies).await.unwrap();
    for (n, body) in (1..=4).zip(&requests) {
        let id = body["taskInstanceId"].as_str().unwrap();
        let done = events
            .wait_for_type("task.completed", Some(id), WAIT)
            .await
            .unwrap();
        assert_eq!(done["detail"]["output"], json!({ "doubled": n * 2 }));
        assert!(
            done["detail"]["requestedBy"]
                .as_str()
                .is_some_and(|r| r.starts_with("iam:")),
            "{done}"
        );
    }
    events.drain(Duration::from_secs(3)).await.unwrap();
    let id = requests[0]["taskInstanceId"].as_str().unwrap();
    assert_eq!(
        events.count("task.created", id),
        1,
        "the duplicate is the same task"
    );
    assert_eq!(events.count("task.completed", id), 1);
    // An invalid one is recorded as failed and announced, with every problem.
    let invalid = request(&name, json!({ "m": 1 }));
    d.send_requests(&[invalid.to_string()]).await.unwrap();
    let failed = events
        .wait_for_type("task.failed", invalid["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "VALIDATION_ERROR");
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn a_manual_task_is_claimed_and_completed_through_the_api() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let name = random_name("approve");
    let group = random_name("approvers");
    register(
        &d,
        json!({
            "name": name, "type": "manual",
            "inputSchema": { "type": "object" },
            "outputSchema": { "type": "object", "required": ["approved"], "properties": { "approved": { "type": "boolean" } } },
            "manual": { "assignment": { "strategy": "group", "id": group } },
            "access": { "submit": { "users": ["svc-orders"] } }
        }),
    )
    .await;
    let mut events = d.watch_events().await.unwrap();
    let (status, accepted) = d
        .api
        .post(
            &As::user("svc-orders", &[]),
            "/tasks",
            request(&name, json!({ "amount": 12 })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["taskInstanceId"].as_str().unwrap().to_owned();
    events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    let ann = As::user("ann", &[&group]);
    let (status, inbox) = d.api.get(&ann, "/tasks?status=ASSIGNED").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert!(inbox.to_string().contains(&id), "{inbox}");
    let (status, claimed) = d
        .api
        .post(&ann, &format!("/tasks/{id}/claim"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let (status, invalid) = d
        .api
        .post(
            &ann,
            &format!("/tasks/{id}/complete"),
            json!({ "output": {} }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{invalid}");
    let (status, done) = d
        .api
        .post(
            &ann,
            &format!("/tasks/{id}/complete"),
            json!({ "output": { "approved": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let completed = events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    assert_eq!(completed["detail"]["completedBy"], "ann");
    assert_eq!(completed["detail"]["output"], json!({ "approved": true }));
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn a_failing_record_is_retried_alone_and_a_poison_message_is_dead_lettered() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let name = random_name("batch");
    register(&d, script(&name, "export default (i) => ({ n: i.n })")).await;
    let mut events = d.watch_events().await.unwrap();
    let good: Vec<Value> = (1..=3).map(|n| request(&name, json!({ "n": n }))).collect();
    let poison = format!("{{not json {}", random_name("poison"));
    // One batch: the poison message between the good ones.
    let sqs = aws_sdk_sqs::Client::new(&d.sdk);
    let mut batch = sqs
        .send_message_batch()
        .queue_url(d.queue_url("RequestsQueue"));
    for (i, body) in [
        good[0].to_string(),
        poison.clone(),
        good[1].to_string(),
        good[2].to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        batch = batch.entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .unwrap(),
        );
    }
    batch.send().await.unwrap();
    for body in &good {
        events
            .wait_for_type("task.completed", body["taskInstanceId"].as_str(), WAIT)
            .await
            .unwrap();
    }
    // The poison message is given up on after MaxReceiveCount deliveries and
    // moved by the queue's redrive policy: ReportBatchItemFailures at work
    // (without it the batch's answer counts as a success and it is deleted).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let dead = d.peek("RequestsDeadLetterQueue").await.unwrap();
        if dead.iter().any(|m| m.as_str() == Some(poison.as_str())) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not dead-lettered: {dead:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Meanwhile the good ones were handled once each: no redelivery of them.
    for body in &good {
        let id = body["taskInstanceId"].as_str().unwrap();
        let created = d.logged("router", id).await.unwrap();
        assert!(
            created.iter().any(|l| l.contains("task created")),
            "{created:?}"
        );
        assert!(
            !created.iter().any(|l| l.contains("duplicate request")),
            "{id} was delivered again with the failing record: {created:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn only_task_writes_wake_the_publisher_and_every_event_arrives() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    // Definitions (and their catalogue entries) are items of the table too.
    let names: Vec<String> = (0..3).map(|_| random_name("filtered")).collect();
    for name in &names {
        register(&d, script(name, "export default (i) => i")).await;
    }
    let mut events = d.watch_events().await.unwrap();
    let body = request(&names[0], json!({ "n": 7 }));
    d.send_requests(&[body.to_string()]).await.unwrap();
    let id = body["taskInstanceId"].as_str().unwrap();
    events
        .wait_for_type("task.completed", Some(id), WAIT)
        .await
        .unwrap();
    events.drain(Duration::from_secs(2)).await.unwrap();
    for kind in ["task.created", "task.started", "task.completed"] {
        assert_eq!(events.count(kind, id), 1, "{kind}");
    }
    // The publisher never saw the definitions' writes.
    for name in &names {
        let seen = d.logged("publisher", name).await.unwrap();
        assert!(
            seen.is_empty(),
            "the stream filter let {name} through: {seen:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn the_sweeper_on_its_schedule_times_out_a_lease_its_executor_abandoned() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let parameter = |k: &str| -> u64 {
        d.stack
            .parameters
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} is not a deployed parameter"))
    };
    // Lambda ends the executor (its function timeout) before the attempt's
    // own timeout: only the lease is left, for the sweeper.
    let killed_at = parameter("ExecutorTimeoutSeconds");
    let timeout = killed_at + 15;
    assert!(
        parameter("MaxTaskTimeoutSeconds") >= timeout
            && parameter("ExecuteVisibilityTimeoutSeconds") > 240,
        "deploy with MaxTaskTimeoutSeconds >= {timeout} and ExecuteVisibilityTimeoutSeconds > 240 (scripts/test does)"
    );
    let name = random_name("spin");
    let mut spin = script(&name, "export default () => { while (true) {} }");
    spin["timeoutSeconds"] = json!(timeout);
    register(&d, spin).await;
    let mut events = d.watch_events().await.unwrap();
    let body = request(&name, json!({ "n": 1 }));
    d.send_requests(&[body.to_string()]).await.unwrap();
    let id = body["taskInstanceId"].as_str().unwrap();
    events
        .wait_for_type("task.started", Some(id), WAIT)
        .await
        .unwrap();
    // The lease ends at the timeout plus grace; the schedule fires every minute.
    let failed = events
        .wait_for_type("task.failed", Some(id), Duration::from_secs(timeout + 150))
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "TIMEOUT", "{failed}");
    let swept = d.logged("timeout-sweeper", id).await.unwrap();
    assert!(
        swept.iter().any(|l| l.contains("lease expired")),
        "the sweeper found it: {swept:?}"
    );
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn the_example_state_machine_drives_three_tasks_through_their_tokens() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let example = |path: &str| -> Value {
        let file = format!("{}/../examples/{path}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    };
    let (base, _service) = fake_service::start().await;
    let mut orders = example("workflows/order-approval/integration-orders.json");
    orders["baseUrl"] = json!(format!("{base}/echo"));
    orders["allowPrivateNetworks"] = json!(true);
    let (status, body) = d
        .api
        .call(
            &As::admin(),
            Method::PUT,
            "/integrations/orders",
            Some(orders),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for path in [
        "definitions/order-total.json",
        "workflows/order-approval/order-approval.json",
        "workflows/order-approval/order-submit.json",
    ] {
        register(&d, example(path)).await;
    }
    let cfn = aws_sdk_cloudformation::Client::new(&d.sdk);
    let outputs = cfn
        .describe_stacks()
        .stack_name(&d.stack_name)
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .outputs()
        .to_vec();
    let machine = outputs
        .iter()
        .find(|o| o.output_key() == Some("OrderApprovalStateMachineArn"))
        .and_then(|o| o.output_value())
        .expect("deployed with ExampleStateMachine=true")
        .to_owned();
    let sfn = aws_sdk_sfn::Client::new(&d.sdk);
    let mut events = d.watch_events().await.unwrap();
    let execution = random_name("order");
    let input = json!({ "order": { "orderId": "A-17", "discountPercent": 10, "items": [
        { "sku": "BOOK-1", "price": 12.5, "quantity": 2 }, { "sku": "PEN-7", "price": 1.25, "quantity": 4 }
    ] } });
    let arn = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&execution)
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn;
    let assigned = events
        .wait_for(WAIT, |e| {
            e["detail-type"] == "task.assigned" && e["detail"]["workflowInstanceId"] == execution
        })
        .await
        .unwrap();
    let task = assigned["detail"]["taskInstanceId"].as_str().unwrap();
    let approver = As::user("ann", &["approvers"]);
    let (status, done) = d
        .api
        .post(
            &approver,
            &format!("/tasks/{task}/complete"),
            json!({ "output": { "approved": true, "comment": "fine" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let deadline = std::time::Instant::now() + WAIT;
    let (status, output) = loop {
        let e = sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .unwrap();
        if e.status != ExecutionStatus::Running {
            break (e.status, e.output.unwrap_or_default());
        }
        assert!(std::time::Instant::now() < deadline, "{arn} still running");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(status, ExecutionStatus::Succeeded, "{output}");
    let output: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output["priced"]["total"], json!(27), "{output}");
    assert_eq!(output["approval"]["approved"], json!(true));
    assert_eq!(output["placed"]["confirmation"], "srv-77", "{output}");
}

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn the_deployed_api_reads_groups_as_the_gateway_passes_them() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let lambda = aws_sdk_lambda::Client::new(&d.sdk);
    let stats = |groups: &str| {
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/admin/stats", "rawQueryString": "",
            "headers": { "host": "api.example" },
            "requestContext": {
                "accountId": "000000000000", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
                "requestId": "r-1", "routeKey": "$default", "stage": "$default", "time": "03/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
                "http": { "method": "GET", "path": "/admin/stats", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test" },
                "authorizer": { "jwt": { "claims": { "sub": "mallory", "cognito:groups": groups }, "scopes": null } }
            },
            "isBase64Encoded": false
        });
        let lambda = lambda.clone();
        let function = format!("{}-api", d.stack_name);
        async move {
            let out = lambda
                .invoke()
                .function_name(function)
                .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
                .send()
                .await
                .unwrap();
            let answer: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
            answer["statusCode"].as_u64().unwrap()
        }
    };
    assert_eq!(stats("[x,tel-admins]").await, 403);
    assert_eq!(stats("[x tel-admins]").await, 200);
}

/// The sender `scripts/test` deploys the stack with (`NotificationSender`).
const DEPLOYED_SENDER: &str = "tel-deployed@example.com";

#[tokio::test]
#[ignore = "needs a deployed stack: scripts/test deploys one on LocalStack"]
async fn the_deployed_notifier_mails_an_assignment_to_the_groups_members_once() {
    let d = Deployed::connect().await.expect(NEEDS_A_STACK);
    let endpoint = d.sdk.endpoint_url().expect("an emulator").to_owned();
    tel_tests::mail::verify_sender(&d.sdk, DEPLOYED_SENDER)
        .await
        .unwrap();
    let group = random_name("approvers");
    let person = random_name("ann");
    let email = format!("{person}@example.com");
    // The directory, through the deployed api function (admins only).
    let (status, body) = d
        .api
        .call(
            &As::admin(),
            Method::PUT,
            &format!("/directory/people/{person}"),
            Some(json!({ "email": email, "groups": [group] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let name = random_name("approve");
    register(
        &d,
        json!({
            "name": name, "type": "manual",
            "title": "Approve {amount} EUR",
            "outputSchema": { "type": "object" },
            "manual": { "assignment": { "strategy": "group", "id": group } }
        }),
    )
    .await;
    let mut events = d.watch_events().await.unwrap();
    let body = request(&name, json!({ "amount": 12 }));
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    d.send_requests(&[body.to_string()]).await.unwrap();
    events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    // The bus rule, the notification queue and its event source mapping
    // bring the event to the notifier function, which mails through SES.
    let mail = tel_tests::mail::wait_for_mail_at(&endpoint, &email, 1, WAIT)
        .await
        .unwrap();
    assert_eq!(mail[0].source, DEPLOYED_SENDER);
    assert_eq!(
        mail[0].subject,
        format!("[tel] Waiting for the group {group}: Approve 12 EUR")
    );
    assert!(
        mail[0].text.contains(&format!("#/tasks/{id}")),
        "{}",
        mail[0].text
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        tel_tests::mail::mail_to_at(&endpoint, &email)
            .await
            .unwrap()
            .len(),
        1,
        "sent once"
    );
}
