//! Automated tasks end to end: a request on the requests queue, the local
//! runner playing Lambda for router, validator and executor, and the outcome
//! observed as events on a queue subscribed to the bus.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::DateTime;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tel_core::domain::{Creation, Envelope, NewTask, Stage, TaskInstanceId, TaskStatus};
use tel_engine::batch::SqsHandler;
use tel_engine::handlers::Router;
use tel_tests::probed_store::{ProbedStore, RECENT_BEHIND, RECENT_NOTHING};
use tel_tests::{TestStack, request};

const WAIT: Duration = Duration::from_secs(20);

fn js(name: &str, source: &str, extra: Value) -> Value {
    let mut def = json!({
        "name": name,
        "type": "automated",
        "implementation": { "kind": "javascript", "source": source },
        "inputSchema": { "type": "object", "required": ["n"], "properties": { "n": { "type": "number" } } },
        "outputSchema": { "type": "object", "required": ["doubled"], "properties": { "doubled": { "type": "number" } } },
        "retry": { "maxAttempts": 1 }
    });
    for (k, v) in extra.as_object().unwrap() {
        def[k] = v.clone();
    }
    def
}

fn id_of(body: &Value) -> String {
    body["taskInstanceId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn outcomes_of_success_invalid_input_invalid_output_and_unknown_definition() {
    let (t, mut events, runner) = TestStack::running([
        js(
            "double",
            "export default (i) => ({ doubled: i.n * 2 })",
            json!({}),
        ),
        js(
            "bad-output",
            "export default (i) => ({ doubled: 'not a number' })",
            json!({}),
        ),
    ])
    .await;

    let ok = request("double", json!({ "n": 21 }));
    let invalid_input = request("double", json!({ "n": "21", "extra": true }));
    let invalid_output = request("bad-output", json!({ "n": 1 }));
    let unknown = request("no-such-definition", json!({}));
    let bodies: Vec<String> = [&ok, &invalid_input, &invalid_output, &unknown]
        .iter()
        .map(|b| b.to_string())
        .collect();
    t.send_requests(&bodies).await.unwrap();

    let completed = events
        .wait_for_type("task.completed", Some(&id_of(&ok)), WAIT)
        .await
        .unwrap();
    let d = &completed["detail"];
    assert_eq!(d["output"], json!({ "doubled": 42 }));
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["workflowInstanceId"], ok["workflowInstanceId"]);
    assert_eq!(d["stepId"], "step-1");
    assert_eq!(d["definition"], "double:1");
    assert!(d["durationMs"].as_i64().unwrap() >= 0);

    let failed = events
        .wait_for_type("task.failed", Some(&id_of(&invalid_input)), WAIT)
        .await
        .unwrap();
    let error = &failed["detail"]["error"];
    assert_eq!(error["code"], "VALIDATION_ERROR");
    let errors = error["details"]["errors"].as_array().unwrap();
    assert_eq!(errors[0]["instancePath"], "/n");
    assert_eq!(errors[0]["schemaPath"], "/properties/n/type");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("is not of type \"number\""),
        "{errors:?}"
    );

    let failed = events
        .wait_for_type("task.failed", Some(&id_of(&invalid_output)), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "OUTPUT_VALIDATION_ERROR");
    assert_eq!(
        failed["detail"]["error"]["details"]["errors"][0]["instancePath"],
        "/doubled"
    );

    let failed = events
        .wait_for_type("task.failed", Some(&id_of(&unknown)), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "UNKNOWN_DEFINITION");
    assert!(
        failed["detail"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-definition")
    );

    let task = t
        .task(TaskInstanceId::parse(&id_of(&ok)).unwrap())
        .await
        .unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    let history = t.history(task.task_instance_id).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["created", "started", "completed"],
        "one write per stage that changes something: a valid input costs none, the output is checked with the attempt"
    );
    let attempt = &history[2];
    assert_eq!(attempt.outcome.as_deref(), Some("succeeded"));
    assert!(attempt.duration_ms.is_some() && attempt.attempt_started_at.is_some());
    runner.stop().await;
}

#[tokio::test]
async fn malformed_json_in_a_batch_does_not_stop_the_good_messages() {
    let (t, mut events, runner) = TestStack::running([js(
        "double",
        "export default (i) => ({ doubled: i.n * 2 })",
        json!({}),
    )])
    .await;
    let good = [
        request("double", json!({ "n": 1 })),
        request("double", json!({ "n": 2 })),
    ];
    let no_step = json!({ "taskDefinitionId": "double", "input": {} });
    let missing_field = json!({ "workflowInstanceId": "wf-x", "stepId": "s-x", "input": {} });
    let bodies = vec![
        good[0].to_string(),
        "{ this is not json".to_owned(),
        no_step.to_string(),
        missing_field.to_string(),
        good[1].to_string(),
    ];
    t.send_requests(&bodies).await.unwrap();
    for g in &good {
        events
            .wait_for_type("task.completed", Some(&id_of(g)), WAIT)
            .await
            .unwrap();
    }
    // The request that names its workflow step is recorded as FAILED and announced.
    let failed = events
        .wait_for(WAIT, |e| {
            e["detail-type"] == "task.failed" && e["detail"]["workflowInstanceId"] == "wf-x"
        })
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "VALIDATION_ERROR");
    assert!(
        failed["detail"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("taskDefinitionId is required")
    );
    // The two that identify nothing end in the dead-letter queue (3 receives, 2 s apart).
    let dlq = t.queue_url("RequestsDeadLetterQueue");
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while dead.len() < 2 && tokio::time::Instant::now() < deadline {
        let out = t
            .sqs()
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        dead.extend(
            out.messages
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.body),
        );
    }
    dead.sort();
    let mut expected = vec![no_step.to_string(), "{ this is not json".to_owned()];
    expected.sort();
    assert_eq!(dead, expected);
    runner.stop().await;
}

#[tokio::test]
async fn sandbox_limits_end_tasks_with_clear_errors() {
    let probe = "export default () => ({ doubled: 0, seen: [typeof require, typeof fetch, typeof process, typeof setTimeout] })";
    let (t, mut events, runner) = TestStack::running([
        js(
            "spin",
            "export default () => { for (;;) {} }",
            json!({ "timeoutSeconds": 1 }),
        ),
        js(
            "bomb",
            "export default () => { const a = []; for (;;) a.push(new Array(10000).fill(a.length)); }",
            json!({ "limits": { "memoryBytes": 8388608 } }),
        ),
        js(
            "probe",
            probe,
            json!({ "outputSchema": { "type": "object" } }),
        ),
    ])
    .await;
    let spin = request("spin", json!({ "n": 1 }));
    let bomb = request("bomb", json!({ "n": 1 }));
    let probe = request("probe", json!({ "n": 1 }));
    t.send_requests(&[spin.to_string(), bomb.to_string(), probe.to_string()])
        .await
        .unwrap();

    let failed = events
        .wait_for_type("task.failed", Some(&id_of(&spin)), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "TIMEOUT");
    let started = events
        .wait_for_type("task.started", Some(&id_of(&spin)), WAIT)
        .await
        .unwrap();
    let ran = at(&failed) - at(&started);
    assert!(
        ran < chrono::Duration::milliseconds(2000),
        "timeout 1 s ended after {ran}"
    );
    assert_eq!(events.count("task.timed_out", &id_of(&spin)), 1);

    let failed = events
        .wait_for_type("task.failed", Some(&id_of(&bomb)), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "MEMORY_LIMIT");
    assert!(
        failed["detail"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("8388608 bytes")
    );

    let done = events
        .wait_for_type("task.completed", Some(&id_of(&probe)), WAIT)
        .await
        .unwrap();
    assert_eq!(
        done["detail"]["output"]["seen"],
        json!(["undefined", "undefined", "undefined", "undefined"])
    );
    runner.stop().await;
}

fn at(event: &Value) -> DateTime<chrono::Utc> {
    event["detail"]["occurredAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn duplicate_requests_make_one_task_and_one_completion() {
    let t = TestStack::new().await.unwrap();
    t.register(js(
        "double",
        "export default (i) => ({ doubled: i.n * 2 })",
        json!({}),
    ))
    .await
    .unwrap();

    // The same SQS message handled twice (a redelivery), with no taskInstanceId of its own.
    let mut anonymous = request("double", json!({ "n": 5 }));
    anonymous.as_object_mut().unwrap().remove("taskInstanceId");
    let mut record = SqsMessage::default();
    record.message_id = Some("message-7".into());
    record.body = Some(anonymous.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![record.clone(), record];
    let router = Router::new(t.engine.clone());
    let response = router
        .handle(LambdaEvent::new(event.clone(), Default::default()))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    router
        .handle(LambdaEvent::new(event, Default::default()))
        .await
        .unwrap();

    // The same request (same taskInstanceId) sent twice as two messages.
    let named = request("double", json!({ "n": 6 }));
    t.send_requests(&[named.to_string(), named.to_string()])
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;

    let done = events
        .wait_for_type("task.completed", Some(&id_of(&named)), WAIT)
        .await
        .unwrap();
    assert_eq!(done["detail"]["output"]["doubled"], 12);
    let wf = anonymous["workflowInstanceId"].as_str().unwrap();
    let first = events
        .wait_for(WAIT, |e| {
            e["detail-type"] == "task.completed" && e["detail"]["workflowInstanceId"] == wf
        })
        .await
        .unwrap();
    runner.quiesce(WAIT).await.unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    assert_eq!(events.count("task.completed", &id_of(&named)), 1);
    assert_eq!(events.count("task.created", &id_of(&named)), 1);
    let anonymous_id = first["detail"]["taskInstanceId"].as_str().unwrap();
    assert_eq!(events.count("task.completed", anonymous_id), 1);
    let created_in_workflow = events
        .seen()
        .iter()
        .filter(|e| e["detail-type"] == "task.created" && e["detail"]["workflowInstanceId"] == wf)
        .count();
    assert_eq!(
        created_in_workflow, 1,
        "one task for the redelivered message"
    );
    runner.stop().await;
}

#[tokio::test]
async fn duplicate_execute_messages_run_the_task_once() {
    let t = TestStack::new().await.unwrap();
    let def = t
        .register(js(
            "double",
            "export default (i) => ({ doubled: i.n * 2 })",
            json!({}),
        ))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let creation = Creation::new(
        NewTask {
            task_instance_id: TaskInstanceId::new(),
            definition_name: "double".into(),
            definition_version: def.version,
            task_type: Some(def.task_type),
            workflow_instance_id: "wf".into(),
            step_id: "s".into(),
            input: json!({ "n": 4 }),
            context: Value::Null,
            priority: 0,
            trace_id: None,
            requested_by: None,
            callback: None,
        },
        now,
        now + chrono::Duration::minutes(5),
    );
    t.engine.tasks().create(&creation.task).await.unwrap();
    let envelope = Envelope {
        task_instance_id: creation.task.task_instance_id,
        stage: Stage::Execute,
        attempt: 0,
        run: None,
        trace_id: None,
    };
    let messages = (0..3)
        .map(|_| tel_core::ports::OutgoingMessage {
            trace: None,
            body: envelope.to_body(),
            delay_seconds: 0,
        })
        .collect();
    t.engine
        .queues()
        .send(&t.queue_url("ExecuteQueue"), messages)
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let id = creation.task.task_instance_id.to_string();
    events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    runner.quiesce(WAIT).await.unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    assert_eq!(events.count("task.started", &id), 1);
    let history = t.history(creation.task.task_instance_id).await.unwrap();
    assert_eq!(history.iter().filter(|h| h.action == "started").count(), 1);
    runner.stop().await;
}

#[tokio::test]
async fn trace_context_travels_from_the_request_through_every_stage_into_events() {
    let (t, mut events, runner) = TestStack::running([js(
        "double",
        "export default (i) => ({ doubled: i.n * 2 })",
        json!({}),
    )])
    .await;
    let traced = request("double", json!({ "n": 1 }));
    let untraced = request("double", json!({ "n": 2 }));
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let message = |body: &Value, trace: Option<&str>| tel_core::ports::OutgoingMessage {
        trace: trace.map(str::to_owned),
        body: body.to_string(),
        delay_seconds: 0,
    };
    t.engine
        .queues()
        .send(
            &t.queue_url("RequestsQueue"),
            vec![message(&traced, Some(parent)), message(&untraced, None)],
        )
        .await
        .unwrap();
    events
        .wait_for_type("task.completed", Some(&id_of(&traced)), WAIT)
        .await
        .unwrap();
    let other = events
        .wait_for_type("task.completed", Some(&id_of(&untraced)), WAIT)
        .await
        .unwrap();
    for kind in ["task.created", "task.started", "task.completed"] {
        let e = events
            .wait_for_type(kind, Some(&id_of(&traced)), WAIT)
            .await
            .unwrap();
        assert_eq!(e["detail"]["traceId"], parent, "{kind}");
    }
    let started = other["detail"]["traceId"].as_str().unwrap();
    assert!(
        started.starts_with("00-") && started.len() == 55 && started != parent,
        "a new trace: {started}"
    );
    runner.stop().await;
}

#[tokio::test]
async fn a_definition_publishing_outcomes_only_sends_its_end_and_nothing_before() {
    let (t, mut events, runner) = TestStack::running([
        js(
            "quiet",
            "export default (i) => ({ doubled: i.n * 2 })",
            json!({ "events": "outcomes" }),
        ),
        js(
            "quiet-failing",
            "export default (i) => ({ doubled: 'no' })",
            json!({ "events": "outcomes" }),
        ),
        js(
            "chatty",
            "export default (i) => ({ doubled: i.n * 2 })",
            json!({}),
        ),
    ])
    .await;
    let quiet = request("quiet", json!({ "n": 2 }));
    let failing = request("quiet-failing", json!({ "n": 2 }));
    let chatty = request("chatty", json!({ "n": 2 }));
    let bodies: Vec<String> = [&quiet, &failing, &chatty]
        .iter()
        .map(|b| b.to_string())
        .collect();
    t.send_requests(&bodies).await.unwrap();
    for (body, end) in [
        (&chatty, "task.completed"),
        (&quiet, "task.completed"),
        (&failing, "task.failed"),
    ] {
        events
            .wait_for_type(end, Some(&id_of(body)), WAIT)
            .await
            .unwrap();
    }
    // Whatever else comes has come by now (the chatty task's started came first).
    events.drain(Duration::from_secs(2)).await.unwrap();
    let types = |body: &Value| {
        let id = id_of(body);
        events
            .seen()
            .iter()
            .filter(|e| e["detail"]["taskInstanceId"] == id.as_str())
            .map(|e| e["detail-type"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&quiet), ["task.completed"]);
    assert_eq!(types(&failing), ["task.failed"]);
    // All three, in whatever order the bus delivered them (EventBridge keeps none).
    let mut chatty_types = types(&chatty);
    chatty_types.sort();
    assert_eq!(
        chatty_types,
        ["task.completed", "task.created", "task.started"]
    );
    // The task itself keeps its whole history.
    let task = t
        .task(TaskInstanceId::parse(&id_of(&quiet)).unwrap())
        .await
        .unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.history.len(), 3);
    runner.stop().await;
}

/// The executor reads the task eventually consistently (half the price);
/// a read that has not seen the task yet is made again, consistently,
/// rather than taken for a task that does not exist. The validator reads
/// consistently: it sends a valid task on without a write.
#[tokio::test]
async fn a_read_that_has_not_seen_the_task_yet_is_made_again_consistently() {
    let (t, probe) = probed(RECENT_NOTHING).await;
    let (done, _) = doubled(&t, 5).await;
    assert_eq!(done["detail"]["output"]["doubled"], 10);
    assert_eq!(
        probe.recent_gets.load(Ordering::SeqCst),
        1,
        "the executor tried the cheaper read first; the validator did not"
    );
}

/// A read that is behind but looks current (a message re-sent after the
/// sweeper's write) leads to a write that is refused; the work is done again
/// on a consistent read, not dropped until the next re-send (30 s later).
#[tokio::test]
async fn a_write_refused_after_a_read_that_was_behind_is_tried_again_on_a_consistent_one() {
    let (t, probe) = probed(RECENT_BEHIND).await;
    let (done, body) = doubled(&t, 7).await;
    assert_eq!(done["detail"]["output"]["doubled"], 14);
    let task = t
        .task(TaskInstanceId::parse(&id_of(&body)).unwrap())
        .await
        .unwrap();
    assert_eq!(task.attempt, 1, "one attempt on record");
    assert!(probe.recent_gets.load(Ordering::SeqCst) >= 1);
}

/// `double` of `n` requested and run through the pipeline, which is stopped
/// after: its `task.completed` event, and the request.
async fn doubled(t: &TestStack, n: i64) -> (Value, Value) {
    let (mut events, runner) = t.run_watched().await;
    let body = request("double", json!({ "n": n }));
    t.send_requests(&[body.to_string()]).await.unwrap();
    let done = events
        .wait_for_type("task.completed", Some(&id_of(&body)), WAIT)
        .await
        .unwrap();
    runner.stop().await;
    (done, body)
}

/// A fresh stack whose task store's eventually consistent reads see `recent`,
/// with `double` registered.
async fn probed(recent: u8) -> (TestStack, Arc<ProbedStore>) {
    let mut t = TestStack::new().await.unwrap();
    let probe = Arc::new(ProbedStore::new(t.engine.tasks().clone()));
    probe.recent.store(recent, Ordering::SeqCst);
    t.engine = Arc::new(t.engine.rebuild().tasks(probe.clone()).build());
    t.register(js(
        "double",
        "export default (i) => ({ doubled: i.n * 2 })",
        json!({}),
    ))
    .await
    .unwrap();
    (t, probe)
}
