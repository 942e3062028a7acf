//! An attempt's start written with its end (`tel_engine::claim`), on the real
//! table and its change stream: a short script goes from waiting to
//! COMPLETED in one write; a redelivered message takes the lease first; a
//! script still running near its task's earliest deadline writes its start
//! then; a task cancelled while its script ran stays cancelled; a message
//! from before a rerun does not run the rerun's input.

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tel_core::domain::events::event_id;
use tel_core::domain::{
    Action, Creation, Envelope, Stage, TaskDefinition, TaskInstance, TaskStatus,
};
use tel_engine::batch::SqsHandler;
use tel_engine::handlers::Executor;
use tel_tests::{TestStack, written_versions};

const WAIT: Duration = Duration::from_secs(20);

/// A script that doubles `n` after spinning for `spin_ms`.
async fn script(t: &TestStack, spin_ms: u64) -> TaskDefinition {
    let source = format!(
        "export default (i) => {{ const end = Date.now() + {spin_ms}; while (Date.now() < end) {{}} return {{ doubled: i.n * 2 }}; }}"
    );
    t.register(json!({
        "name": "double",
        "type": "automated",
        "implementation": { "kind": "javascript", "source": source },
        "outputSchema": { "type": "object", "required": ["doubled"] },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap()
}

/// A task waiting for its attempt, its stage message due to be re-sent
/// `redeliver_in` from now.
async fn waiting(t: &TestStack, def: &TaskDefinition, redeliver_in: Duration) -> TaskInstance {
    let now = Utc::now();
    let redeliver_at = now + chrono::Duration::from_std(redeliver_in).unwrap();
    let creation = Creation::new(tel_tests::new_task(def), now, redeliver_at);
    t.engine.tasks().create(&creation.task).await.unwrap();
    creation.task
}

/// The task's execute message, as SQS hands it out for the `receive_count`th time.
fn execute_message(task: &TaskInstance, receive_count: u32) -> LambdaEvent<SqsEvent> {
    let envelope = Envelope {
        task_instance_id: task.task_instance_id,
        stage: Stage::Execute,
        attempt: task.attempt,
        run: Some(task.run()),
        trace_id: None,
    };
    let mut record = SqsMessage::default();
    record.message_id = Some(format!("execute-{}", task.task_instance_id));
    record.body = Some(envelope.to_body());
    record
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![record];
    LambdaEvent::new(event, Default::default())
}

fn executor(t: &TestStack) -> Executor {
    Executor::new(t.engine.clone(), tel_runners::standard(&t.sdk, &t.engine))
}

/// The task's first execute message handled by an executor of its own, in the background.
fn spawn_attempt(
    t: &TestStack,
    task: &TaskInstance,
) -> tokio::task::JoinHandle<Result<SqsBatchResponse, lambda_runtime::Error>> {
    let executor = executor(t);
    let message = execute_message(task, 1);
    tokio::spawn(async move { executor.handle(message).await })
}

fn actions(task: &TaskInstance) -> Vec<&str> {
    task.history.iter().map(|h| h.action.as_str()).collect()
}

#[tokio::test]
async fn a_short_script_goes_from_waiting_to_completed_in_one_write_announcing_both() {
    let t = TestStack::new().await.unwrap();
    let def = script(&t, 0).await;
    let task = waiting(&t, &def, Duration::from_secs(60)).await;
    let mut events = t.watch_events().await.unwrap();

    let response = executor(&t)
        .handle(execute_message(&task, 1))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    let done = t.task(task.task_instance_id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.output, Some(json!({ "doubled": 6 })));
    assert_eq!(done.attempt, 1);
    assert_eq!(actions(&done), ["created", "started", "completed"]);
    assert!(done.deadlines.is_empty() && done.wake_at.is_none());
    assert_eq!(
        written_versions(&t, &task.task_instance_id).await,
        [task.version, task.version + 2],
        "created, then started and completed in one write"
    );

    // Both entries of the one write are announced, once each, with the ids
    // of their own versions. (The watcher's queue does not keep the bus's
    // order; the publisher's order is held by the publisher's own tests.)
    t.publish_events().await.unwrap();
    let id = task.task_instance_id.to_string();
    events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    let mut announced: Vec<(String, String)> = events
        .seen()
        .iter()
        .filter(|e| e["detail"]["taskInstanceId"] == id.as_str())
        .map(|e| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (text(&e["detail-type"]), text(&e["detail"]["eventId"]))
        })
        .collect();
    announced.sort();
    let of_version = |v| event_id(task.task_instance_id, v, 0);
    assert_eq!(
        announced,
        [
            ("task.completed".to_owned(), of_version(task.version + 2)),
            ("task.created".to_owned(), of_version(task.version)),
            ("task.started".to_owned(), of_version(task.version + 1)),
        ]
    );
}

#[tokio::test]
async fn a_message_delivered_again_writes_the_lease_before_the_attempt() {
    let t = TestStack::new().await.unwrap();
    let def = script(&t, 0).await;
    let task = waiting(&t, &def, Duration::from_secs(60)).await;

    let response = executor(&t)
        .handle(execute_message(&task, 2))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    let done = t.task(task.task_instance_id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(
        written_versions(&t, &task.task_instance_id).await,
        [task.version, task.version + 1, task.version + 2],
        "RUNNING written on its own, then COMPLETED"
    );
}

#[tokio::test]
async fn a_script_still_running_near_the_task_s_deadline_writes_its_start_then() {
    let t = TestStack::new().await.unwrap();
    let def = script(&t, 4_000).await;
    // The start is due in the table 5 s before the re-send: 2 s from now.
    let task = waiting(&t, &def, Duration::from_secs(7)).await;
    let id = task.task_instance_id;

    let started = Instant::now();
    let attempt = spawn_attempt(&t, &task);
    // RUNNING under its lease appears while the script still spins.
    let mut running = None;
    while running.is_none() && !attempt.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        running = Some(t.task(id).await.unwrap()).filter(|t| t.status == TaskStatus::Running);
    }
    let running = running.expect("the start was written while the attempt ran");
    assert!(
        started.elapsed() < Duration::from_millis(3_900),
        "seen before the script's 4 s were up: {:?}",
        started.elapsed()
    );
    assert_eq!(running.attempt, 1);
    assert!(running.wake_at.is_some(), "the sweeper watches its lease");

    let response = attempt.await.unwrap().unwrap();
    assert!(response.batch_item_failures.is_empty());
    let done = t.task(id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(actions(&done), ["created", "started", "completed"]);
    assert_eq!(
        written_versions(&t, &task.task_instance_id).await,
        [task.version, task.version + 1, task.version + 2]
    );
}

#[tokio::test]
async fn a_task_cancelled_while_its_script_runs_stays_cancelled() {
    let t = TestStack::new().await.unwrap();
    // The script spins 4 s; the cancel comes 1.5 s in, long after the
    // executor has read the task and started it (tens of milliseconds).
    let def = script(&t, 4_000).await;
    let task = waiting(&t, &def, Duration::from_secs(60)).await;
    let id = task.task_instance_id;

    let started = Instant::now();
    let attempt = spawn_attempt(&t, &task);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = t.task(id).await.unwrap();
    assert_eq!(before.status, TaskStatus::Created, "the start is held");
    t.engine
        .apply(
            &before,
            Action::Cancel {
                reason: "no longer needed".into(),
                by: Some("user:ops".into()),
            },
        )
        .await
        .unwrap();

    let response = attempt.await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the script ran to its end before the write was refused"
    );
    assert!(
        response.batch_item_failures.is_empty(),
        "nothing left to do: the message is acknowledged"
    );
    let after = t.task(id).await.unwrap();
    assert_eq!(after.status, TaskStatus::Cancelled);
    assert_eq!(after.output, None);
    assert_eq!(actions(&after), ["created", "cancelled"]);
    assert_eq!(
        written_versions(&t, &task.task_instance_id).await,
        [task.version, task.version + 1]
    );
}

/// A rerun puts the task back to CREATED at attempt 0, as it was when its
/// first execute message was sent: that message names the run it belongs
/// to, so it cannot run the rerun's input before validation has.
#[tokio::test]
async fn an_execute_message_from_before_a_rerun_is_dropped() {
    let t = TestStack::new().await.unwrap();
    let def = script(&t, 0).await;
    let task = waiting(&t, &def, Duration::from_secs(60)).await;
    let before = execute_message(&task, 1);
    let failed = t
        .engine
        .apply(
            &task,
            Action::Fail {
                error: tel_core::domain::TaskError::new("EXECUTION_ERROR", "boom"),
            },
        )
        .await
        .unwrap();
    let rerun = t
        .engine
        .apply(
            &failed,
            Action::Rerun {
                by: Some("user:ops".into()),
                redeliver_at: Utc::now() + chrono::Duration::seconds(60),
            },
        )
        .await
        .unwrap();
    assert_eq!((rerun.status, rerun.attempt), (TaskStatus::Created, 0));

    let response = executor(&t).handle(before).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "acknowledged");
    let after = t.task(task.task_instance_id).await.unwrap();
    assert_eq!(after.status, TaskStatus::Created, "not run");
    assert_eq!((after.version, after.run()), (rerun.version, 1));
    assert_eq!(actions(&after), ["created", "failed", "rerun"]);
}

/// The sweeper's re-send writes the task again but starts no new run: the
/// message it re-sent for stays current, so a task whose message waits in a
/// slow queue is run by whichever copy comes first, not starved by re-sends.
#[tokio::test]
async fn an_execute_message_stays_current_after_the_sweeper_re_sends() {
    let t = TestStack::new().await.unwrap();
    let def = script(&t, 0).await;
    let task = waiting(&t, &def, Duration::from_secs(60)).await;
    let first = execute_message(&task, 1);
    let re_sent = t
        .engine
        .apply(
            &task,
            Action::Redeliver {
                redeliver_at: Utc::now() + chrono::Duration::seconds(60),
            },
        )
        .await
        .unwrap();
    assert_eq!(re_sent.version, task.version + 1);

    let response = executor(&t).handle(first).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let done = t.task(task.task_instance_id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(
        actions(&done),
        ["created", "redelivered", "started", "completed"]
    );
}
