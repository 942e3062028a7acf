//! Data confinement, each guard tried as an attacker would through the
//! public way in (the API, the requests queue, the bus): a reference to
//! someone else's stored input, a squatted task id, access revoked in a new
//! version, a task that publishes requests, a request carrying a step's
//! token. Every test fails without its guard.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tel_core::domain::{TaskInstanceId, TaskStatus};
use tel_engine::config::Settings;
use tel_local::event_tap::EventTap;
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, random_name, request};

const WAIT: Duration = Duration::from_secs(45);

/// Echoes its input, submitted by `users`.
fn echo(name: &str, users: &[&str]) -> Value {
    json!({
        "name": name, "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => ({ seen: i })" },
        "retry": { "maxAttempts": 1 },
        "access": { "submit": { "users": users } }
    })
}

/// A stack whose payloads over 1 KB go to the bucket.
async fn small_threshold() -> TestStack {
    let settings = Settings {
        payload_threshold_bytes: 1024,
        ..Default::default()
    };
    TestStack::with(
        BTreeMap::from([("VisibilityTimeoutSeconds".into(), "2".into())]),
        settings,
    )
    .await
    .unwrap()
}

fn id_of(body: &Value) -> TaskInstanceId {
    TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn an_input_ref_names_only_an_upload_of_the_callers_own() {
    let t = small_threshold().await;
    t.register(echo("payroll", &["victim"])).await.unwrap();
    t.register(echo("notes", &["mallory", "victim"]))
        .await
        .unwrap();
    let api = Api::serve(&t).await;
    let (mut events, runner) = t.run_watched().await;
    let (victim, mallory) = (As::user("victim", &[]), As::user("mallory", &[]));
    let bucket = t.stack.payload_bucket.clone().unwrap();

    // The victim's task keeps its input in the bucket, under tasks/.
    let salary = json!({ "salary": "secret-".repeat(300) });
    let (status, body) = api
        .post(&victim, "/tasks", request("payroll", salary.clone()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    events
        .wait_for_type("task.completed", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let stored = t.task(id_of(&body)).await.unwrap().input_ref.unwrap();
    assert!(stored.key.starts_with("tasks/"), "{}", stored.key);
    let theirs = json!({ "bucket": bucket, "key": stored.key });

    // Through the API: refused at once, without naming the bucket.
    let mut steal = request("notes", Value::Null);
    steal.as_object_mut().unwrap().remove("input");
    steal["inputRef"] = theirs.clone();
    let (status, body) = api.post(&mallory, "/tasks", steal.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(!body.to_string().contains(&bucket), "{body}");

    // Through the queue: the task fails validation and never holds the input.
    t.send_requests(&[steal.to_string()]).await.unwrap();
    let failed = events
        .wait_for_type("task.failed", steal["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "VALIDATION_ERROR");
    assert!(!failed.to_string().contains(&bucket), "{failed}");
    let task = t.task(id_of(&steal)).await.unwrap();
    assert_eq!((task.input, task.input_ref), (Value::Null, None));

    // Another caller's upload is not mallory's to name either.
    let (status, upload) = api.post(&victim, "/payloads", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    let mut borrowed = request("notes", Value::Null);
    borrowed.as_object_mut().unwrap().remove("input");
    borrowed["inputRef"] = upload["inputRef"].clone();
    let (status, _) = api.post(&mallory, "/tasks", borrowed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Her own upload is: put with the URL the API gave, then referenced.
    let (status, upload) = api.post(&mallory, "/payloads", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    let note = json!({ "text": "mine".repeat(500) });
    let put = tel_tests::http_client()
        .put(upload["uploadUrl"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .body(note.to_string())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let mut own = request("notes", Value::Null);
    own.as_object_mut().unwrap().remove("input");
    own["inputRef"] = upload["inputRef"].clone();
    let (status, body) = api.post(&mallory, "/tasks", own).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    events
        .wait_for_type("task.completed", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let mut loaded = t.task(id_of(&body)).await.unwrap();
    t.engine
        .load_payloads(&mut loaded, &tel_core::domain::PayloadField::ALL)
        .await
        .unwrap();
    assert_eq!(loaded.output.unwrap()["seen"], note);
    runner.stop().await;
}

#[tokio::test]
async fn a_taken_task_id_neither_replaces_its_input_nor_tells_its_status() {
    let t = small_threshold().await;
    t.register(json!({
        "name": "approve", "type": "manual",
        "inputSchema": { "type": "object" },
        "manual": { "assignment": { "strategy": "group", "id": "finance" } },
        "access": { "submit": { "users": ["victim"] } }
    }))
    .await
    .unwrap();
    t.register(echo("notes", &["mallory"])).await.unwrap();
    let api = Api::serve(&t).await;
    let (mut events, runner) = t.run_watched().await;
    let (victim, mallory) = (As::user("victim", &[]), As::user("mallory", &[]));

    let original = json!({ "invoice": "A".repeat(4000) });
    let theirs = request("approve", original.clone());
    let (status, body) = api.post(&victim, "/tasks", theirs.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = theirs["taskInstanceId"].as_str().unwrap();
    events
        .wait_for_type("task.assigned", Some(id), WAIT)
        .await
        .unwrap();

    // Mallory reuses the id with other content: refused, and told nothing.
    let mut squat = request("notes", json!({ "invoice": "B".repeat(4000) }));
    squat["taskInstanceId"] = json!(id);
    let (status, body) = api.post(&mallory, "/tasks", squat.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let text = body.to_string();
    for hidden in ["ASSIGNED", "approve"] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
    assert_eq!(
        body["status"], 409,
        "the problem's own status, not the task's"
    );
    // Through the queue too (a no-op): the stored input still reads whole.
    t.send_requests(&[squat.to_string()]).await.unwrap();
    let (status, body) = api.post(&mallory, "/tasks", squat).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, view) = api.get(&victim, &format!("/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["task"]["input"], original);
    assert_eq!(view["task"]["status"], "ASSIGNED");
    // Its owner asking again is answered with the task.
    let (status, body) = api.post(&victim, "/tasks", theirs).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::ACCEPTED, &json!("ASSIGNED"))
    );
    runner.stop().await;
}

#[tokio::test]
async fn access_revoked_in_a_new_version_is_revoked_in_the_old_ones() {
    let mut v1 = echo("report", &["svc-a", "svc-b"]);
    v1["access"]["read"] = json!({ "groups": ["audit"] });
    let (t, mut events, runner) = TestStack::running([v1]).await;
    let api = Api::serve(&t).await;
    let (svc_a, svc_b, auditor) = (
        As::user("svc-a", &[]),
        As::user("svc-b", &[]),
        As::user("ann", &["audit"]),
    );
    // While v1 is the latest, svc-b and the auditors may use it.
    let (status, early) = api
        .post(&svc_b, "/tasks", request("report:1", json!({ "n": 1 })))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{early}");
    let early = early["taskInstanceId"].as_str().unwrap().to_owned();
    events
        .wait_for_type("task.completed", Some(&early), WAIT)
        .await
        .unwrap();
    assert_eq!(
        api.get(&auditor, &format!("/tasks/{early}")).await.0,
        StatusCode::OK
    );

    // v2 drops svc-b and the auditors.
    let (status, body) = api
        .call(
            &As::admin(),
            reqwest::Method::PUT,
            "/definitions/report",
            Some(echo("report", &["svc-a"])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api
        .post(&svc_b, "/tasks", request("report:1", json!({ "n": 2 })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "v1 is not a way around v2");
    for path in [
        format!("/tasks/{early}"),
        "/definitions/report/versions/1".to_owned(),
    ] {
        assert_eq!(
            api.get(&auditor, &path).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Who the latest rules allow may still run the pinned version.
    let (status, body) = api
        .post(&svc_a, "/tasks", request("report:1", json!({ "n": 3 })))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let done = events
        .wait_for_type("task.completed", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(done["detail"]["definition"], "report:1");
    // The events say who asked.
    assert_eq!(done["detail"]["requestedBy"], "user:svc-a");

    // An integration's `use` revoked in v2 is revoked for v1.
    let integration = |users: &[&str]| {
        json!({
            "name": "crm", "baseUrl": "https://crm.example",
            "access": { "use": { "users": users } }
        })
    };
    let put = |path: &'static str, body: Value, who: As| {
        let api = &api;
        async move {
            api.call(&who, reqwest::Method::PUT, path, Some(body))
                .await
                .0
        }
    };
    assert_eq!(
        put("/integrations/crm", integration(&["dev"]), As::admin()).await,
        StatusCode::CREATED
    );
    assert_eq!(
        put("/integrations/crm", integration(&[]), As::admin()).await,
        StatusCode::CREATED
    );
    let mut caller = echo("caller", &[]);
    caller["access"]["manage"] = json!({ "users": ["dev"] });
    t.register(caller).await.unwrap();
    let http = json!({
        "name": "caller", "type": "integration",
        "implementation": { "kind": "http", "integration": "crm:1", "request": { "method": "GET", "path": "/x" } },
        "access": { "manage": { "users": ["dev"] } }
    });
    assert_eq!(
        put("/definitions/caller", http, As::user("dev", &[])).await,
        StatusCode::FORBIDDEN
    );
    runner.stop().await;
}

#[tokio::test]
async fn only_orchestrators_start_tasks_through_the_bus_and_no_task_publishes_requests() {
    let settings = Settings {
        system_permissions: vec!["events:publish".into()],
        ..Default::default()
    };
    let t = TestStack::with(
        BTreeMap::from([("VisibilityTimeoutSeconds".into(), "2".into())]),
        settings,
    )
    .await
    .unwrap();
    t.register(echo("payout", &[])).await.unwrap();
    t.register(json!({
        "name": "announce", "type": "automated",
        "implementation": { "kind": "system", "function": "events.publish", "permissions": ["events:publish"], "config": { "source": "orchestrator" } },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap();
    let requests = EventTap::subscribe(
        &t.sdk,
        &t.stack.event_bus_name,
        &random_name("requests"),
        r#"{"detail-type":["task.requested"]}"#,
    )
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;

    // A task asks the bus to start another definition: refused.
    let forged = request("payout", json!({ "to": "mallory" }));
    let publisher = request(
        "announce",
        json!({ "detailType": "task.requested", "detail": forged }),
    );
    t.send_requests(&[publisher.to_string()]).await.unwrap();
    let failed = events
        .wait_for_type("task.failed", publisher["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "PERMISSION_DENIED");

    // On the bus, only the orchestrators' sources start tasks.
    let events_client = aws_sdk_eventbridge::Client::new(&t.sdk);
    let from = |source: &str, request: &Value| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&t.stack.event_bus_name)
            .source(source)
            .detail_type("task.requested")
            .detail(request.to_string())
            .build()
    };
    let stranger = request("payout", json!({ "to": "stranger" }));
    let orchestrated = request("payout", json!({ "to": "supplier" }));
    events_client
        .put_events()
        .entries(from("mallory.app", &stranger))
        .entries(from("orchestrator", &orchestrated))
        .send()
        .await
        .unwrap();
    events
        .wait_for_type(
            "task.completed",
            orchestrated["taskInstanceId"].as_str(),
            WAIT,
        )
        .await
        .unwrap();
    // Both reached the bus, after anything the task could have put there;
    // the task's request never did, the stranger's started nothing.
    let mut seen: Vec<Value> = Vec::new();
    let named = |seen: &[Value], request: &Value| {
        seen.iter()
            .any(|e| e["detail"]["taskInstanceId"] == request["taskInstanceId"])
    };
    while !(named(&seen, &stranger) && named(&seen, &orchestrated)) {
        let batch = requests.receive(5).await.unwrap();
        assert!(!batch.is_empty(), "both events reach the bus: {seen:?}");
        seen.extend(batch);
    }
    assert!(!named(&seen, &forged), "the task published a request");
    let missing = t.engine.tasks().get(id_of(&stranger)).await.unwrap();
    assert!(missing.is_none(), "a stranger's event started a task");
    assert!(
        t.engine
            .tasks()
            .get(id_of(&forged))
            .await
            .unwrap()
            .is_none()
    );
    let task = t.task(id_of(&orchestrated)).await.unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    assert!(
        task.requested_by
            .as_deref()
            .unwrap_or_default()
            .starts_with("iam:"),
        "{:?}",
        task.requested_by
    );

    // The API takes no Step Functions token.
    let api = Api::serve(&t).await;
    let mut with_token = request("payout", json!({}));
    with_token["taskToken"] = json!("AAAAKgAAAAIAAAAAAAAAAQ-someone-elses-step");
    let (status, body) = api.post(&As::admin(), "/tasks", with_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    requests.close().await;
    runner.stop().await;
}
