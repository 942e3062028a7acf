//! Payloads by reference (the claim check) and AWS errors that cannot get
//! better by retrying: a payload over a limit or a missing queue fails the
//! task at once, saying why; a missing table keeps the message.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};
use tel_core::domain::{TaskInstanceId, TaskStatus};
use tel_engine::config::Settings;
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, request};

const WAIT: Duration = Duration::from_secs(60);

fn id_of(body: &Value) -> TaskInstanceId {
    TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap()
}

fn script(name: &str, source: &str) -> Value {
    json!({
        "name": name, "type": "automated",
        "implementation": { "kind": "javascript", "source": source },
        "limits": { "memoryBytes": 64 * 1024 * 1024 },
        "retry": { "maxAttempts": 3, "initialDelaySeconds": 0 }
    })
}

#[tokio::test]
async fn large_inputs_and_outputs_travel_by_reference_and_come_back_whole() {
    let (t, mut events, runner) = TestStack::running([
        script(
            "shout",
            "export default (i) => ({ loud: i.text.toUpperCase() })",
        ),
        script(
            "five-megabytes",
            "export default () => ({ big: 'x'.repeat(5 * 1024 * 1024) })",
        ),
    ])
    .await;
    let text = "quiet please ".repeat(20_000); // 260 KB
    let big_in = request("shout", json!({ "text": text }));
    let five = request("five-megabytes", json!({}));
    t.send_requests(&[big_in.to_string(), five.to_string()])
        .await
        .unwrap();

    // 250 KB in, 250 KB out: both in the bucket, the event carrying the reference.
    let done = events
        .wait_for_type("task.completed", big_in["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let detail = &done["detail"];
    assert!(detail.get("output").is_none(), "{detail}");
    let output_ref = &detail["outputRef"];
    assert_eq!(
        output_ref["bucket"].as_str(),
        t.stack.payload_bucket.as_deref()
    );
    let stored = t.task(id_of(&big_in)).await.unwrap();
    let input_ref = stored
        .input_ref
        .clone()
        .expect("the input went to the bucket");
    assert!(input_ref.size > 250_000);
    assert_eq!(stored.input, Value::Null, "not repeated in the record");
    let output: Value = t
        .engine
        .read_payload(&stored.output_ref.clone().unwrap())
        .await
        .unwrap();
    assert_eq!(output["loud"].as_str().unwrap(), text.to_uppercase());
    assert_eq!(
        serde_json::to_value(&stored.output_ref).unwrap(),
        *output_ref
    );

    // The API returns both whole.
    let api = Api::serve(&t).await;
    let (status, view) = api
        .get(&As::admin(), &format!("/tasks/{}", id_of(&big_in)))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["task"]["input"]["text"].as_str().unwrap(), text);
    assert_eq!(
        view["task"]["output"]["loud"].as_str().unwrap(),
        text.to_uppercase()
    );

    // 5 MB out completes; the API gives a URL that reads it whole.
    events
        .wait_for_type("task.completed", five["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let (status, view) = api
        .get(&As::admin(), &format!("/tasks/{}", id_of(&five)))
        .await;
    assert_eq!(status, 200, "{view}");
    let url = view["payloadUrls"]["output"]
        .as_str()
        .expect("a URL past 1 MB");
    let fetched: Value = tel_tests::http_client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["big"].as_str().unwrap().len(), 5 * 1024 * 1024);
    runner.stop().await;
}

#[tokio::test]
async fn an_output_over_the_cap_fails_its_first_attempt_for_good() {
    let (t, mut events, runner) = TestStack::running([script(
        "eleven-megabytes",
        "export default () => ({ big: 'x'.repeat(11 * 1024 * 1024) })",
    )])
    .await;
    let body = request("eleven-megabytes", json!({}));
    let sent = tokio::time::Instant::now();
    t.send_requests(&[body.to_string()]).await.unwrap();
    let failed = events
        .wait_for_type("task.failed", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let took = sent.elapsed();
    let error = &failed["detail"]["error"];
    assert_eq!(error["code"], "PAYLOAD_TOO_LARGE", "{error}");
    assert_eq!(error["details"]["limitBytes"], 10 * 1024 * 1024);
    assert_eq!(failed["detail"]["attempts"], 1, "no retry");
    assert!(took < Duration::from_secs(20), "within seconds: {took:?}");
    runner.quiesce(WAIT).await.unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    let id = body["taskInstanceId"].as_str().unwrap();
    assert_eq!(events.count("task.retry_scheduled", id), 0);
    assert_eq!(events.count("task.started", id), 1, "not redelivered");
    runner.stop().await;
}

#[tokio::test]
async fn a_request_may_bring_its_input_by_reference() {
    let t = TestStack::new().await.unwrap();
    t.register(script(
        "count",
        "export default (i) => ({ items: i.items.length })",
    ))
    .await
    .unwrap();
    let bucket = t.stack.payload_bucket.clone().unwrap();
    let s3 = tel_aws::s3::client(&t.sdk);
    let input = json!({ "items": (0..1000).collect::<Vec<_>>() });
    s3.put_object()
        .bucket(&bucket)
        .key("requests/order-1.json")
        .body(ByteStream::from(input.to_string().into_bytes()))
        .send()
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let mut by_ref = request("count", Value::Null);
    by_ref.as_object_mut().unwrap().remove("input");
    by_ref["inputRef"] = json!({ "bucket": bucket, "key": "requests/order-1.json" });
    let mut missing = by_ref.clone();
    missing["taskInstanceId"] = json!(TaskInstanceId::new().to_string());
    missing["inputRef"]["key"] = json!("requests/no-such.json");
    t.send_requests(&[by_ref.to_string(), missing.to_string()])
        .await
        .unwrap();
    let done = events
        .wait_for_type("task.completed", by_ref["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(done["detail"]["output"], json!({ "items": 1000 }));
    let task = t.task(id_of(&by_ref)).await.unwrap();
    assert_eq!(
        task.input_ref.unwrap().key,
        "requests/order-1.json",
        "referenced where it is, not copied"
    );
    let failed = events
        .wait_for_type("task.failed", missing["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "VALIDATION_ERROR");
    assert!(
        failed["detail"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requests/no-such.json")
    );
    runner.stop().await;
}

/// The SDK's S3 checksums come from tel's own stand-in for crc-fast
/// (vendor/crc-fast). Each of the three it computes is stored with an
/// object and read back: it must be the value computed for the same bytes
/// elsewhere (Python's zlib and AWS's CRT, the library botocore uses), on
/// every engine; LocalStack also computes each one itself and refuses a
/// body whose checksum differs (BadDigest).
#[tokio::test]
async fn the_bucket_agrees_with_every_checksum_the_sdk_computes() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
    let t = TestStack::new().await.unwrap();
    let bucket = t.stack.payload_bucket.clone().unwrap();
    let s3 = tel_aws::s3::client(&t.sdk);
    // A megabyte and an odd tail: every byte value, at every offset of
    // the tables' sixteen-byte steps.
    let body: Vec<u8> = (0..1_048_583u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    // zlib.crc32(body), awscrt.checksums.crc32c(body) and crc64nvme(body),
    // big-endian, in base64 as S3 writes them.
    let expected = [
        (ChecksumAlgorithm::Crc32, "zQkImA=="),
        (ChecksumAlgorithm::Crc32C, "gaBOVA=="),
        (ChecksumAlgorithm::Crc64Nvme, "I7yxXYmwvgE="),
    ];
    for (algorithm, checksum) in expected {
        let key = format!("checksums/{}", algorithm.as_str());
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{algorithm:?}: {:?}", e.into_service_error()));
        let read = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let stored = match algorithm {
            ChecksumAlgorithm::Crc32 => read.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => read.checksum_crc32_c(),
            _ => read.checksum_crc64_nvme(),
        };
        assert_eq!(stored, Some(checksum), "{algorithm:?}");
        let bytes = read.body.collect().await.unwrap().into_bytes();
        assert!(bytes == body, "{algorithm:?}: the body came back whole");
    }
}

#[tokio::test]
async fn a_record_the_table_refuses_fails_its_task_at_once_saying_why() {
    // No claim check below 1 MB: a 200 KB input and a 250 KB output do not
    // fit one DynamoDB item, and the table refuses the completing write.
    let t = TestStack::with(
        Default::default(),
        Settings {
            payload_threshold_bytes: 1024 * 1024,
            ..Settings::default()
        },
    )
    .await
    .unwrap();
    t.register(script(
        "echo",
        "export default (i) => ({ again: i.text + i.text.slice(0, 50 * 1024) })",
    ))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let body = request("echo", json!({ "text": "y".repeat(200 * 1024) }));
    t.send_requests(&[body.to_string()]).await.unwrap();
    let failed = events
        .wait_for_type("task.failed", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let error = &failed["detail"]["error"];
    assert_eq!(error["code"], "PAYLOAD_TOO_LARGE", "{error}");
    assert_eq!(error["details"]["limitBytes"], 400 * 1024);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("a DynamoDB item holds at most"),
        "{error}"
    );
    assert_eq!(failed["detail"]["attempts"], 1);
    let task = t.task(id_of(&body)).await.unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    runner.stop().await;
}

#[tokio::test]
async fn a_missing_queue_fails_the_task_naming_it_and_a_missing_table_keeps_the_message() {
    let t = TestStack::new().await.unwrap(); // visibility 2 s, maxReceiveCount 3
    t.register(script("noop", "export default () => ({})"))
        .await
        .unwrap();
    let execute = t.queue_url("ExecuteQueue");
    t.sqs()
        .delete_queue()
        .queue_url(&execute)
        .send()
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let body = request("noop", json!({}));
    t.send_requests(&[body.to_string()]).await.unwrap();
    let failed = events
        .wait_for_type("task.failed", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let error = &failed["detail"]["error"];
    assert_eq!(error["code"], "CONFIGURATION_ERROR", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains(&execute),
        "names the queue: {error}"
    );
    runner.stop().await;

    // Without the table nothing can be recorded: the request is not lost but
    // redelivered until SQS moves it to the dead-letter queue.
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .delete_table()
        .table_name(&t.stack.table_name)
        .send()
        .await
        .unwrap();
    let runner = t.run_pipeline().unwrap();
    let lost = request("noop", json!({}));
    t.send_requests(&[lost.to_string()]).await.unwrap();
    let dlq = t.queue_url("RequestsDeadLetterQueue");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut kept = Vec::new();
    while kept.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        kept = t
            .sqs()
            .receive_message()
            .queue_url(&dlq)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
    }
    runner.stop().await;
    let body: Value = serde_json::from_str(kept[0].body().unwrap()).unwrap();
    assert_eq!(body["taskInstanceId"], lost["taskInstanceId"]);
}
