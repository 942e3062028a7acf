//! SQS and EventBridge adapters and the local runner against the emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tel_core::domain::{Action, Creation, EventType, NewTask, TaskInstanceId, transition};
use tel_core::ports::{BusEvent, OutgoingMessage};
use tel_engine::batch::SqsHandler;
use tel_local::Poller;
use tel_tests::TestStack;

#[tokio::test]
async fn a_published_event_reaches_a_subscribed_queue_in_the_documented_shape() {
    let t = TestStack::new().await.unwrap();
    let mut watcher = t.watch_events().await.unwrap();
    let now = Utc::now();
    let creation = Creation::new(
        NewTask {
            task_instance_id: TaskInstanceId::new(),
            definition_name: "double".into(),
            definition_version: 2,
            task_type: None,
            workflow_instance_id: "wf-9".into(),
            step_id: "step-3".into(),
            input: json!({}),
            context: serde_json::Value::Null,
            priority: 0,
            trace_id: None,
            requested_by: None,
            callback: None,
        },
        now,
        now,
    );
    let started = transition(&creation.task, Action::Start { lease_until: now }, now).unwrap();
    let done = Action::Complete {
        output: Some(json!({ "n": 2 })),
        by: None,
    };
    let completed = transition(&started.task, done, now).unwrap().events[0].clone();
    assert_eq!(completed.event_type, EventType::Completed);
    // 23 events: three PutEvents calls of at most 10 entries.
    let mut events: Vec<BusEvent> = (0..22)
        .map(|_| BusEvent::from(&started.events[0]))
        .collect();
    events.push(BusEvent::from(&completed));
    t.engine.publisher().publish(&events).await.unwrap();

    let id = creation.task.task_instance_id.to_string();
    let envelope = watcher
        .wait_for_type("task.completed", Some(&id), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(envelope["source"], "task-execution-layer");
    let detail = &envelope["detail"];
    assert_eq!(detail["eventId"], completed.event_id);
    assert_eq!(detail["type"], "task.completed");
    assert_eq!(detail["workflowInstanceId"], "wf-9");
    assert_eq!(detail["stepId"], "step-3");
    assert_eq!(detail["definition"], "double:2");
    assert_eq!(detail["output"], json!({ "n": 2 }));
    assert_eq!(detail["attempts"], 1);
    assert_eq!(detail["durationMs"], 0);
    watcher.drain(Duration::from_millis(500)).await.unwrap();
    assert_eq!(watcher.count("task.started", &id), 22);
}

#[tokio::test]
async fn queue_sends_are_batched_and_all_arrive() {
    let t = TestStack::new().await.unwrap();
    let url = t.queue_url("ValidateQueue");
    let messages: Vec<OutgoingMessage> = (0..25)
        .map(|i| OutgoingMessage {
            trace: None,
            body: format!("m{i}"),
            delay_seconds: 0,
        })
        .collect();
    t.engine.queues().send(&url, messages).await.unwrap();
    let attributes = t
        .sqs()
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let count = attributes.attributes.unwrap()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .clone();
    assert_eq!(count, "25");
}

/// Fails every record whose body is "poison"; counts what it sees.
struct FailPoison {
    seen: AtomicUsize,
    poison_seen: AtomicUsize,
}

#[async_trait]
impl SqsHandler for FailPoison {
    fn name(&self) -> &'static str {
        "fail-poison"
    }

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let mut response = SqsBatchResponse::default();
        for record in event.payload.records {
            self.seen.fetch_add(1, Ordering::SeqCst);
            if record.body.as_deref() == Some("poison") {
                self.poison_seen.fetch_add(1, Ordering::SeqCst);
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        Ok(response)
    }
}

#[tokio::test]
async fn the_local_runner_redelivers_only_failed_records_then_dead_letters_them() {
    let t = TestStack::new().await.unwrap(); // visibility 2 s, maxReceiveCount 3
    let queue = t.stack.queue("ValidateQueue").unwrap().clone();
    let handler = Arc::new(FailPoison {
        seen: AtomicUsize::new(0),
        poison_seen: AtomicUsize::new(0),
    });
    let poller = Poller {
        sqs: t.sqs(),
        lane: tel_local::poller::Lane {
            url: queue.url.clone(),
            arn: queue.arn.clone(),
        },
        region: t.stack.region.clone(),
        handler: handler.clone(),
        batch_size: 10,
        wait_seconds: 1,
        invocations: Default::default(),
    };
    let bodies = ["good-1", "poison", "good-2"];
    let messages = bodies
        .iter()
        .map(|b| OutgoingMessage {
            trace: None,
            body: (*b).into(),
            delay_seconds: 0,
        })
        .collect();
    t.engine.queues().send(&queue.url, messages).await.unwrap();

    let mut received = 0;
    let mut deleted = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while handler.poison_seen.load(Ordering::SeqCst) < 3 && tokio::time::Instant::now() < deadline {
        let outcome = poller.poll_once().await.unwrap();
        received += outcome.received;
        deleted += outcome.deleted;
    }
    // One more poll after the poison's visibility lapses: it is in the DLQ now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let last = poller.poll_once().await.unwrap();
    assert_eq!(
        last.received, 0,
        "the poison message went to the DLQ after 3 receives"
    );
    assert_eq!(handler.poison_seen.load(Ordering::SeqCst), 3);
    assert_eq!(deleted, 2, "the good records were deleted once each");
    assert_eq!(
        received, 5,
        "good records delivered once, the poison three times"
    );

    let dlq = t.queue_url("ValidateDeadLetterQueue");
    let dead = t
        .sqs()
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let bodies: Vec<String> = dead
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(bodies, vec!["poison".to_owned()]);
}
