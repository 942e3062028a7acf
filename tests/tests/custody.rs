//! Who keeps a task between its request and its end, on the real queues and
//! table: a request first delivered through the requests queue goes straight
//! to its executor (which checks the input) and never enters the deadline
//! index, its messages keeping it instead; a redelivered request, a budget or
//! the API's way in put it in the index; an executor that dies holding a
//! first-delivered message has it back within its hiding time, not the
//! execute queue's 960 s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tel_core::domain::task_error::VALIDATION_ERROR;
use tel_core::domain::{ExecutionRequest, TaskDefinition, TaskInstanceId, TaskStatus};
use tel_engine::batch::SqsHandler;
use tel_engine::claim::hiding_of_first_deliveries;
use tel_engine::config::Settings;
use tel_engine::handlers::{Executor, Router};
use tel_local::poller::lambda_record;
use tel_tests::{TestStack, request, written_versions};

const INDEXED: [&str; 2] = ["GSI3PK", "GSI3SK"];

/// A script `name` that doubles an integer `n`, with `extra` settings.
async fn script(t: &TestStack, name: &str, extra: Value) -> TaskDefinition {
    let mut definition = json!({
        "name": name,
        "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => ({ doubled: i.n * 2 })" },
        "inputSchema": { "type": "object", "required": ["n"], "properties": { "n": { "type": "integer" } } },
        "retry": { "maxAttempts": 1 }
    });
    definition
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    t.register(definition).await.unwrap()
}

/// What one receive of a queue hands a function, as Lambda's event source would.
async fn receive(t: &TestStack, logical_id: &str) -> Vec<SqsMessage> {
    let queue = t.stack.queue(logical_id).unwrap();
    let out = t
        .sqs()
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    (out.messages.unwrap_or_default().into_iter())
        .map(|m| lambda_record(m, &queue.arn, "us-east-1"))
        .collect()
}

fn event(records: Vec<SqsMessage>) -> LambdaEvent<SqsEvent> {
    let mut event = SqsEvent::default();
    event.records = records;
    LambdaEvent::new(event, Default::default())
}

fn executor(t: &TestStack) -> Executor {
    Executor::new(t.engine.clone(), tel_runners::standard(&t.sdk, &t.engine))
}

/// Sends a request for `name` with `input` and hands it to a router as
/// delivered for the `receive_count`th time. Returns the task's id.
async fn route(t: &TestStack, name: &str, input: Value, receive_count: u32) -> TaskInstanceId {
    deliver(t, request(name, input), receive_count).await
}

/// Sends the request `body` and hands it to a router as delivered for the
/// `receive_count`th time. Returns the task's id.
async fn deliver(t: &TestStack, body: Value, receive_count: u32) -> TaskInstanceId {
    t.send_requests(&[body.to_string()]).await.unwrap();
    let mut records = receive(t, "RequestsQueue").await;
    assert_eq!(records.len(), 1);
    records[0]
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    let response = Router::new(t.engine.clone())
        .handle(event(records))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_request_through_the_queue_goes_to_its_executor_and_never_into_the_deadline_index() {
    let t = TestStack::new().await.unwrap();
    script(&t, "double", json!({})).await;
    let id = route(&t, "double", json!({ "n": 3 }), 1).await;

    let created = t.task(id).await.unwrap();
    assert_eq!(created.status, TaskStatus::Created);
    assert!(
        created.wake_at.is_none(),
        "no wake-up: {:?}",
        created.wake_at
    );
    assert!(t.index_keys(id).await.unwrap().is_empty(), "in no index");
    assert!(
        receive(&t, "ValidateQueue").await.is_empty(),
        "no validation stage"
    );
    let execute = receive(&t, "ExecuteQueue").await;
    assert_eq!(execute.len(), 1, "its executor's message");

    let response = executor(&t).handle(event(execute)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let done = t.task(id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.output, Some(json!({ "doubled": 6 })));
    assert!(t.index_keys(id).await.unwrap().is_empty());
    // Created, then started and completed in one write: no write between
    // could have put the task in the index and taken it out again.
    assert_eq!(written_versions(&t, &id).await, [1, 3]);
}

#[tokio::test]
async fn a_redelivered_request_a_budget_or_the_api_put_the_task_in_the_deadline_index() {
    let t = TestStack::new().await.unwrap();
    script(&t, "double", json!({})).await;
    // A router died or failed holding the request once: the index keeps it.
    let again = route(&t, "double", json!({ "n": 1 }), 2).await;
    assert_eq!(t.index_keys(again).await.unwrap(), INDEXED);

    // The API's way in has no message to keep the task.
    let by_api = Router::new(t.engine.clone())
        .accept(
            ExecutionRequest::parse(request("double", json!({ "n": 2 }))).unwrap(),
            None,
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        t.index_keys(by_api.task_instance_id).await.unwrap(),
        INDEXED
    );

    // A whole-task budget must end the task even while its message waits.
    script(&t, "budgeted", json!({ "scheduleToCloseSeconds": 600 })).await;
    let budgeted = route(&t, "budgeted", json!({ "n": 3 }), 1).await;
    assert_eq!(t.index_keys(budgeted).await.unwrap(), INDEXED);
}

/// A task its messages kept whose message comes again (a handler died or
/// failed holding it) is put in the index: a request stored by its first
/// delivery, and a stage message.
#[tokio::test]
async fn a_message_delivered_again_puts_the_task_its_messages_kept_in_the_index() {
    let t = TestStack::new().await.unwrap();
    script(&t, "double", json!({})).await;
    let body = request("double", json!({ "n": 1 }));
    let id = deliver(&t, body.clone(), 1).await;
    assert!(t.index_keys(id).await.unwrap().is_empty());
    // The send after the first delivery's write was lost: the request comes again.
    assert_eq!(deliver(&t, body, 2).await, id);
    assert_eq!(t.index_keys(id).await.unwrap(), INDEXED);
    let task = t.task(id).await.unwrap();
    assert_eq!(
        (task.status, task.version),
        (TaskStatus::Created, 1),
        "no transition"
    );

    // A manual task's validate message delivered again.
    t.register(json!({
        "name": "approve", "type": "manual",
        "manual": { "assignment": { "strategy": "group", "id": "approvers" } }
    }))
    .await
    .unwrap();
    let manual = route(&t, "approve", json!({}), 1).await;
    assert!(t.index_keys(manual).await.unwrap().is_empty());
    let mut validate = receive(&t, "ValidateQueue").await;
    assert_eq!(validate.len(), 1);
    validate[0]
        .attributes
        .insert("ApproximateReceiveCount".into(), "2".into());
    let validator = tel_engine::handlers::Validator::new(t.engine.clone());
    let response = validator.handle(event(validate)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(t.index_keys(manual).await.unwrap(), INDEXED);
}

#[tokio::test]
async fn an_invalid_input_fails_at_its_executor_before_any_attempt() {
    let t = TestStack::new().await.unwrap();
    script(&t, "double", json!({})).await;
    let id = route(&t, "double", json!({ "n": "three" }), 1).await;
    let execute = receive(&t, "ExecuteQueue").await;
    let response = executor(&t).handle(event(execute)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());

    let failed = t.task(id).await.unwrap();
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.attempt, 0, "no attempt ran");
    let error = failed.error.unwrap();
    assert_eq!(error.code, VALIDATION_ERROR);
    let errors = error.details["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["instancePath"], "/n");
}

#[tokio::test]
async fn an_executor_that_dies_holding_a_first_delivery_has_it_back_within_its_hiding_time() {
    let settings = Settings {
        redeliver_after: Duration::from_secs(2),
        ..Settings::default()
    };
    let hidden = hiding_of_first_deliveries(settings.redeliver_after).visibility;
    let overrides = BTreeMap::from([("VisibilityTimeoutSeconds".into(), "2".into())]);
    let t = TestStack::with(overrides, settings).await.unwrap();
    script(&t, "double", json!({})).await;
    let id = route(&t, "double", json!({ "n": 4 }), 1).await;

    // The executor does its work; the process dies before the message is
    // deleted (Lambda deletes it once the function returns).
    let execute = receive(&t, "ExecuteQueue").await;
    let received = Instant::now();
    executor(&t).handle(event(execute)).await.unwrap();
    let done = t.task(id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);

    // Back after the executor's hiding time, not the queue's 960 s.
    let back = loop {
        let records = receive(&t, "ExecuteQueue").await;
        if !records.is_empty() {
            break records;
        }
        assert!(
            received.elapsed() < hidden + Duration::from_secs(15),
            "the message is still hidden {:?} after its receipt",
            received.elapsed()
        );
    };
    let waited = received.elapsed();
    assert!(
        waited + Duration::from_secs(2) >= hidden,
        "came back after {waited:?}, before its hiding time {hidden:?}"
    );
    assert_eq!(back[0].attributes["ApproximateReceiveCount"], "2");
    // Coming back to a task that ended, it does nothing.
    let response = executor(&t).handle(event(back)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(t.task(id).await.unwrap(), done);
}
