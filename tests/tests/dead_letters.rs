//! A poison message: redelivered until SQS dead-letters it, its task FAILED
//! with the reason on the last delivery, listed with that reason, redriven.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde_json::{Value, json};
use tel_aws::SqsDeadLetterQueues;
use tel_aws::sqs::TRACE_ATTRIBUTE;
use tel_core::domain::{Creation, Envelope, NewTask, Stage, TaskInstanceId, TaskStatus};
use tel_core::ports::DeadLetterQueues;
use tel_core::ports::OutgoingMessage;
use tel_engine::admin::dead_letter_queue;
use tel_tests::TestStack;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_poison_message_fails_its_task_reaches_the_dlq_with_its_reason_and_redrives() {
    let t = TestStack::new().await.unwrap(); // visibility 2 s, maxReceiveCount 3
    // A definition whose stored item is damaged: every attempt to use it fails.
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .put_item()
        .table_name(&t.stack.table_name)
        .item("PK", AttributeValue::S("DEF#damaged".into()))
        .item("SK", AttributeValue::S("V#0000000001".into()))
        .item("document", AttributeValue::S("{ not json".into()))
        .send()
        .await
        .unwrap();
    let now = Utc::now();
    let later = now + chrono::Duration::minutes(10);
    let creation = Creation::new(
        NewTask {
            task_instance_id: TaskInstanceId::new(),
            definition_name: "damaged".into(),
            definition_version: 1,
            task_type: None,
            workflow_instance_id: "wf".into(),
            step_id: "s".into(),
            input: json!({}),
            context: Value::Null,
            priority: 0,
            trace_id: None,
            requested_by: None,
            callback: None,
        },
        now,
        later,
    );
    t.engine.tasks().create(&creation.task).await.unwrap();
    let id = creation.task.task_instance_id;
    let envelope = Envelope {
        task_instance_id: id,
        stage: Stage::Input,
        attempt: 0,
        run: None,
        trace_id: None,
    };
    let validate = t.queue_url("ValidateQueue");
    t.engine
        .queues()
        .send(
            &validate,
            vec![OutgoingMessage {
                trace: None,
                body: envelope.to_body(),
                delay_seconds: 0,
            }],
        )
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;

    let failed = events
        .wait_for_type("task.failed", Some(&id.to_string()), WAIT)
        .await
        .unwrap();
    let error = &failed["detail"]["error"];
    assert_eq!(error["code"], "POISON_MESSAGE");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("after 3 deliveries"),
        "{error}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("unreadable"),
        "{error}"
    );
    assert_eq!(t.task(id).await.unwrap().status, TaskStatus::Failed);

    // SQS moves it to the dead-letter queue on the next receive.
    let dlq = t.queue_url("ValidateDeadLetterQueue");
    let mut letters = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while letters.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        letters = dead_letter_queue::list(
            &SqsDeadLetterQueues::new(t.sqs()),
            t.engine.dead_letters().as_ref(),
            &dlq,
            &validate,
            10,
        )
        .await
        .unwrap();
    }
    assert_eq!(letters.len(), 1);
    let note = letters[0].note.as_ref().expect("the reason was recorded");
    assert_eq!(note.task_instance_id, Some(id));
    assert_eq!(note.receive_count, 3);
    assert!(note.reason.contains("unreadable"), "{}", note.reason);
    assert_eq!(letters[0].body, envelope.to_body());

    // Redrive: back on the validate queue, where the (now FAILED) task's message is acknowledged.
    // The listing made what it read visible again at once: no wait.
    let mut progress = Vec::new();
    let moved = SqsDeadLetterQueues::new(t.sqs())
        .redrive(&dlq, &validate, 10, &mut |n| progress.push(n))
        .await
        .unwrap();
    assert_eq!((moved, progress), (1, vec![1]));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let attrs = t
            .sqs()
            .get_queue_attributes()
            .queue_url(&validate)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let count = |k: aws_sdk_sqs::types::QueueAttributeName| attrs[&k].parse::<u32>().unwrap();
        let left = count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redriven message was not consumed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let after = dead_letter_queue::list(
        &SqsDeadLetterQueues::new(t.sqs()),
        t.engine.dead_letters().as_ref(),
        &dlq,
        &validate,
        10,
    )
    .await
    .unwrap();
    assert!(after.is_empty());
    runner.stop().await;
}

#[tokio::test]
async fn redrive_moves_batches_up_to_its_limit_keeping_the_trace_context() {
    use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
    let t = TestStack::new().await.unwrap();
    let sqs = t.sqs();
    let (dlq, execute) = (
        t.queue_url("ExecuteDeadLetterQueue"),
        t.queue_url("ExecuteQueue"),
    );
    let trace = MessageAttributeValue::builder()
        .data_type("String")
        .string_value("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .build()
        .unwrap();
    for chunk in (0..23).collect::<Vec<_>>().chunks(10) {
        let entries = chunk
            .iter()
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!("{{\"n\":{i}}}"))
                    .message_attributes(TRACE_ATTRIBUTE, trace.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(&dlq)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }

    let mut progress = Vec::new();
    let first = SqsDeadLetterQueues::new(sqs.clone())
        .redrive(&dlq, &execute, 5, &mut |n| progress.push(n))
        .await
        .unwrap();
    assert_eq!((first, progress), (5, vec![5]), "stops at its limit");
    let mut progress = Vec::new();
    let rest = SqsDeadLetterQueues::new(sqs.clone())
        .redrive(&dlq, &execute, 100, &mut |n| progress.push(n))
        .await
        .unwrap();
    assert_eq!(rest, 18);
    assert_eq!(progress.last(), Some(&18));
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");

    let mut bodies = std::collections::BTreeSet::new();
    while bodies.len() < 23 {
        let out = sqs
            .receive_message()
            .queue_url(&execute)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        assert!(!messages.is_empty(), "only {} came back", bodies.len());
        for m in messages {
            let attributes = m.message_attributes.unwrap_or_default();
            assert_eq!(attributes.get(TRACE_ATTRIBUTE), Some(&trace));
            bodies.insert(m.body.unwrap());
        }
    }
    let left = sqs
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert!(left.is_empty(), "the dead-letter queue is empty");
}

#[tokio::test]
async fn redrive_by_definition_moves_only_the_messages_naming_its_tasks() {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    use tel_engine::admin::dead_letter_queue::naming_definition;
    let t = TestStack::new().await.unwrap();
    let charge = t
        .register(serde_json::json!({ "name": "charge", "type": "automated", "implementation": { "kind": "javascript", "source": "export default (i) => i" } }))
        .await
        .unwrap();
    let refund = t
        .register(serde_json::json!({ "name": "refund", "type": "automated", "implementation": { "kind": "javascript", "source": "export default (i) => i" } }))
        .await
        .unwrap();
    let stored = |def: &tel_core::domain::TaskDefinition| {
        let task = tel_tests::new_task(def);
        let now = chrono::Utc::now();
        tel_core::domain::Creation::new(task, now, now).task
    };
    let (charged, refunded) = (stored(&charge), stored(&refund));
    for task in [&charged, &refunded] {
        t.engine.tasks().create(task).await.unwrap();
    }
    let envelope = |task: &tel_core::domain::TaskInstance| {
        serde_json::json!({ "taskInstanceId": task.task_instance_id, "stage": "execute", "attempt": 1 })
            .to_string()
    };
    let request =
        |definition: &str| tel_tests::request(definition, serde_json::json!({})).to_string();
    let bodies = [
        request("charge"),
        request("charge:1"),
        serde_json::json!({ "detail-type": "task.requested", "detail": tel_tests::request("charge", serde_json::json!({})) }).to_string(),
        envelope(&charged),
        request("refund"),
        request("refund"),
        envelope(&refunded),
        "not json".to_owned(),
    ];
    let sqs = t.sqs();
    let (dlq, execute) = (
        t.queue_url("ExecuteDeadLetterQueue"),
        t.queue_url("ExecuteQueue"),
    );
    let entries = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .unwrap()
        })
        .collect();
    sqs.send_message_batch()
        .queue_url(&dlq)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();

    let queues = SqsDeadLetterQueues::new(sqs.clone());
    let picked = naming_definition(&queues, t.engine.tasks().as_ref(), &dlq, "charge", 100)
        .await
        .unwrap();
    assert_eq!(picked.len(), 4, "{picked:?}");
    let moved = queues
        .redrive_only(&dlq, &execute, &picked, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(moved, 4);
    let mut back = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&execute)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        back.extend(
            out.messages
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.body),
        );
        if back.len() >= 4 {
            break;
        }
    }
    back.sort();
    let mut expected: Vec<String> = bodies[..4].to_vec();
    expected.sort();
    assert_eq!(back, expected);
    // The others stay in the dead-letter queue, visible again at once.
    let left = dead_letter_queue::list(
        &queues,
        t.engine.dead_letters().as_ref(),
        &dlq,
        &execute,
        100,
    )
    .await
    .unwrap();
    assert_eq!(left.len(), 4, "{left:?}");
}
