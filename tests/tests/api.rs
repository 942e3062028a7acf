//! The HTTP API over real HTTP against the emulator: inbox, claim races,
//! completion with server-side validation, authorization, routes vs OpenAPI.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tel_core::domain::{
    Action, Assignee, AssigneeType, TaskDefinition, TaskInstance, TaskInstanceId, TaskStatus,
};
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, request};

const WAIT: Duration = Duration::from_secs(20);

fn approval() -> Value {
    json!({
        "name": "approve",
        "type": "manual",
        "inputSchema": { "type": "object", "properties": { "amount": { "type": "number" } } },
        "outputSchema": {
            "type": "object",
            "required": ["approved"],
            "additionalProperties": false,
            "properties": { "approved": { "type": "boolean" }, "comment": { "type": "string", "maxLength": 10 } }
        },
        "manual": { "assignment": { "strategy": "group", "id": "finance" } },
        "access": { "submit": { "users": ["orchestrator"] } }
    })
}

/// An ASSIGNED task of `definition`, written straight to the store.
async fn assigned(
    t: &TestStack,
    definition: &TaskDefinition,
    kind: AssigneeType,
    id: &str,
) -> TaskInstance {
    let assignee = Assignee {
        kind,
        id: id.into(),
    };
    tel_tests::store_assigned(t, definition, assignee).await
}

/// The id of an `approve` task submitted over the API like an orchestrator
/// would, once manual-assign has assigned it.
async fn submitted_and_assigned(
    api: &Api,
    events: &mut tel_tests::EventWatcher,
    input: Value,
) -> String {
    let (status, accepted) = api
        .post(
            &As::user("orchestrator", &[]),
            "/tasks",
            request("approve", input),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["taskInstanceId"].as_str().unwrap().to_owned();
    events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn the_inbox_holds_own_and_group_tasks_each_once_across_pages() {
    let t = TestStack::new().await.unwrap();
    let def = t.register(approval()).await.unwrap();
    let api = Api::serve(&t).await;
    let mut alices = Vec::new();
    for _ in 0..3 {
        alices.push(
            assigned(&t, &def, AssigneeType::User, "alice")
                .await
                .task_instance_id,
        );
        alices.push(
            assigned(&t, &def, AssigneeType::Group, "finance")
                .await
                .task_instance_id,
        );
    }
    alices.push(
        assigned(&t, &def, AssigneeType::Group, "audit")
            .await
            .task_instance_id,
    );
    let bobs = [
        assigned(&t, &def, AssigneeType::User, "bob")
            .await
            .task_instance_id,
        assigned(&t, &def, AssigneeType::Group, "sales")
            .await
            .task_instance_id,
    ];
    let alice = As::user("alice", &["finance", "audit"]);

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/tasks?limit=2&cursor={c}"),
            None => "/tasks?limit=2".to_owned(),
        };
        let (status, page) = api.get(&alice, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["taskInstanceId"].as_str().unwrap().to_owned()),
        );
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    let mut expected: Vec<String> = alices.iter().map(ToString::to_string).collect();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected, "every task once");
    assert_eq!(seen.len(), 7);
    assert_eq!(pages, 4);

    let (_, bob_inbox) = api.get(&As::user("bob", &["sales"]), "/tasks").await;
    let mut bob_seen: Vec<&str> = bob_inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["taskInstanceId"].as_str().unwrap())
        .collect();
    bob_seen.sort();
    let mut bob_expected: Vec<String> = bobs.iter().map(ToString::to_string).collect();
    bob_expected.sort();
    assert_eq!(
        bob_seen, bob_expected,
        "bob sees his tasks and sales', none of alice's"
    );

    let (_, claimed_only) = api.get(&alice, "/tasks?status=CLAIMED").await;
    assert!(claimed_only["items"].as_array().unwrap().is_empty());
    let (status, problem) = api.get(&alice, "/tasks?status=NOPE").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BAD_REQUEST"))
    );
    let (status, _) = api.get(&alice, "/tasks?cursor=not-a-cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn two_users_claim_at_once_one_wins_the_other_gets_409() {
    let t = TestStack::new().await.unwrap();
    let def = t.register(approval()).await.unwrap();
    let api = Api::serve(&t).await;
    let task = assigned(&t, &def, AssigneeType::Group, "finance").await;
    let path = format!("/tasks/{}/claim", task.task_instance_id);
    let (alice, carol) = (
        As::user("alice", &["finance"]),
        As::user("carol", &["finance"]),
    );
    let (a, b) = tokio::join!(
        api.post(&alice, &path, json!({})),
        api.post(&carol, &path, json!({}))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let loser = if a.0 == StatusCode::CONFLICT {
        &a.1
    } else {
        &b.1
    };
    assert_eq!(loser["code"], "CONFLICT");
    let winner = if a.0 == StatusCode::OK {
        "alice"
    } else {
        "carol"
    };
    let stored = t.task(task.task_instance_id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::Claimed);
    assert_eq!(stored.assignee.unwrap().id, winner);

    // Unclaiming gives it back to the group.
    let who = if winner == "alice" { alice } else { carol };
    let (status, body) = api
        .post(
            &who,
            &format!("/tasks/{}/unclaim", task.task_instance_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["task"]["assignee"],
        json!({ "type": "GROUP", "id": "finance" })
    );
}

#[tokio::test]
async fn completion_is_validated_on_the_server_and_announced_with_the_user() {
    let (t, mut events, runner) = TestStack::running([approval()]).await;
    let api = Api::serve(&t).await;

    // Submitted over the API like an orchestrator would, assigned by manual-assign.
    let id = submitted_and_assigned(&api, &mut events, json!({ "amount": 99 })).await;
    let alice = As::user("alice", &["finance"]);

    let (status, form) = api.get(&alice, &format!("/tasks/{id}/form")).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert_eq!(form["renderer"], "jsonforms");
    assert_eq!(form["input"]["data"], json!({ "amount": 99 }));
    assert_eq!(form["actions"], json!(["claim", "complete"]));

    let before = t.task(TaskInstanceId::parse(&id).unwrap()).await.unwrap();
    let (status, problem) = api.post(&alice, &format!("/tasks/{id}/complete"), json!({ "output": { "approved": "yes", "comment": "far too long a comment", "extra": 1 } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "OUTPUT_VALIDATION_ERROR");
    let mut pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    pointers.sort();
    assert_eq!(pointers, vec!["", "/approved", "/comment"], "{problem}");
    let after = t.task(TaskInstanceId::parse(&id).unwrap()).await.unwrap();
    assert_eq!(
        (after.status, after.version),
        (before.status, before.version),
        "the task is unchanged"
    );

    let (status, done) = api
        .post(
            &alice,
            &format!("/tasks/{id}/complete"),
            json!({ "output": { "approved": true, "comment": "ok" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["task"]["status"], "COMPLETED");
    let completed = events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    assert_eq!(
        completed["detail"]["output"],
        json!({ "approved": true, "comment": "ok" })
    );
    assert_eq!(completed["detail"]["completedBy"], "alice");
    let (_, view) = api.get(&As::admin(), &format!("/tasks/{id}")).await;
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("completed"), Some("alice"))
    );
    runner.stop().await;
}

/// Every mutating route against every kind of caller.
#[tokio::test]
async fn the_authorization_matrix_holds_for_every_mutating_route() {
    let t = TestStack::new().await.unwrap();
    let def = t.register(approval()).await.unwrap();
    let api = Api::serve(&t).await;
    let member = As::user("alice", &["finance"]);
    let wrong_user = As::user("mallory", &[]);
    let wrong_group = As::user("sam", &["sales"]);
    let admin = As::admin();
    let unauthenticated = [As::anonymous(), As::forged("alice"), As::expired("alice")];

    for kind in [
        "claim", "unclaim", "complete", "reassign", "cancel", "retry",
    ] {
        // A fresh task in the state the route needs.
        let mut task = assigned(&t, &def, AssigneeType::Group, "finance").await;
        match kind {
            "unclaim" => {
                task = t
                    .engine
                    .apply(&task, Action::Claim { by: "alice".into() })
                    .await
                    .unwrap()
            }
            "retry" => {
                let late = tel_core::domain::TaskError::new("TIMEOUT", "late");
                task = t
                    .engine
                    .apply(
                        &task,
                        Action::TimeOut {
                            error: late,
                            default_output: None,
                        },
                    )
                    .await
                    .unwrap();
            }
            _ => {}
        }
        let id = task.task_instance_id;
        let path = format!("/tasks/{id}/{kind}");
        let body = match kind {
            "complete" => json!({ "output": { "approved": true } }),
            "reassign" => json!({ "type": "USER", "id": "bob" }),
            _ => json!({}),
        };
        for caller in &unauthenticated {
            let (status, problem) = api.post(caller, &path, body.clone()).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")),
                "{kind}: {problem}"
            );
        }
        // Strangers to the task cannot tell it exists.
        for caller in [&wrong_user, &wrong_group] {
            let (status, problem) = api.post(caller, &path, body.clone()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{kind}: {problem}");
        }
        let allowed = match kind {
            "claim" | "unclaim" | "complete" => &member,
            _ => &admin,
        };
        if matches!(kind, "reassign" | "cancel" | "retry") {
            let (status, _) = api.post(&member, &path, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{kind}: members are not managers"
            );
        }
        let (status, result) = api.post(allowed, &path, body.clone()).await;
        assert!(
            status.is_success(),
            "{kind} as the right caller: {status} {result}"
        );
    }

    let (status, _) = api
        .call(
            &member,
            Method::PUT,
            "/definitions/approve",
            Some(approval()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for caller in &unauthenticated {
        let (status, _) = api
            .call(
                caller,
                Method::PUT,
                "/definitions/approve",
                Some(approval()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = api
            .post(caller, "/tasks", request("approve", json!({})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, created) = api.call(&admin, Method::PUT, "/definitions/approve", Some(json!({ "type": "manual", "manual": { "assignment": { "strategy": "user", "id": "x" } } }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["version"], 2);
}

#[tokio::test]
async fn requests_and_definitions_are_checked_with_precise_errors() {
    let t = TestStack::new().await.unwrap();
    t.register(approval()).await.unwrap();
    let api = Api::serve(&t).await;
    let admin = As::admin();
    let (status, problem) = api
        .call(
            &admin,
            Method::PUT,
            "/definitions/broken",
            Some(json!({ "type": "robotic", "timeoutSeconds": -1 })),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_DEFINITION")),
        "{problem}"
    );
    let paths: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["type", "timeoutSeconds"]);
    let (status, problem) = api
        .call(
            &admin,
            Method::PUT,
            "/definitions/approve",
            Some(json!({ "name": "other", "type": "manual" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    let (status, def) = api.get(&admin, "/definitions/approve").await;
    assert_eq!(
        (status, def["version"].clone(), def["versions"].clone()),
        (StatusCode::OK, json!(1), json!([1]))
    );
    let (status, _) = api.get(&admin, "/definitions/approve/versions/1").await;
    assert_eq!(status, StatusCode::OK);
    for missing in [
        "/definitions/nope",
        "/definitions/approve/versions/9",
        "/definitions/approve/versions/x",
    ] {
        let (status, problem) = api.get(&admin, missing).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "{missing}"
        );
    }

    let caller = As::user("orchestrator", &[]);
    let (status, problem) = api
        .post(
            &caller,
            "/tasks",
            json!({ "workflowInstanceId": "w", "input": {} }),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("VALIDATION_ERROR"))
    );
    // Whether a definition exists is said to admins only.
    let (status, problem) = api
        .post(&caller, "/tasks", request("nope", json!({})))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    let (status, problem) = api.post(&admin, "/tasks", request("nope", json!({}))).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("UNKNOWN_DEFINITION"))
    );
    let (status, problem) = api.call(&caller, Method::POST, "/tasks", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    // The same Idempotency-Key gives the same task.
    let mut body = request("approve", json!({}));
    body.as_object_mut().unwrap().remove("taskInstanceId");
    let send = || {
        api.http
            .post(format!("{}/tasks", api.base))
            .bearer_auth(caller.0.clone().unwrap())
            .header("Idempotency-Key", "k-1")
            .json(&body)
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(first["taskInstanceId"], second["taskInstanceId"]);

    let id = first["taskInstanceId"].as_str().unwrap();
    let (status, _) = api.get(&caller, &format!("/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "its starter sees it");
    let (status, _) = api
        .get(&As::user("stranger", &[]), &format!("/tasks/{id}"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no one else without a rule does"
    );
    let (status, _) = api
        .get(&caller, &format!("/tasks/{}", TaskInstanceId::new()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_route_in_the_openapi_document_is_served() {
    let t = TestStack::new().await.unwrap();
    let api = Api::serve(&t).await;
    let (status, doc) = api.get(&As::anonymous(), "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let admin = As::admin();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", &TaskInstanceId::new().to_string())
                .replace("{name}", "some-definition")
                .replace("{version}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = api
                .call(&admin, method.clone(), &concrete, Some(json!({})))
                .await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                body.get("detail") != Some(&json!("no such route")),
                "{method} {path} is documented but not served"
            );
            assert!(!status.is_server_error(), "{method} {path}: {status}");
        }
    }
    let (status, problem) = api.get(&admin, "/no/such/route").await;
    assert_eq!(
        (status, problem["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("no such route"))
    );
}

#[tokio::test]
async fn tasks_are_titled_by_their_definitions_template_wherever_people_see_them() {
    let t = TestStack::new().await.unwrap();
    let mut titled = approval();
    titled["title"] = json!("Approve {employee}'s expense of {amount} EUR");
    let def = t.register(titled).await.unwrap();
    let mut plain = approval();
    plain["name"] = json!("approve-plain");
    let plain = t.register(plain).await.unwrap();
    let api = Api::serve(&t).await;
    let finance = || Assignee {
        kind: AssigneeType::Group,
        id: "finance".into(),
    };
    let mut task = tel_tests::assigned_task(&def, finance());
    task.input = json!({ "employee": "Ann", "amount": 80 });
    t.engine.tasks().create(&task).await.unwrap();
    let untitled = tel_tests::store_assigned(&t, &plain, finance()).await;
    let id = task.task_instance_id;
    let title = json!("Approve Ann's expense of 80 EUR");

    let person = As::user("bea", &["finance"]);
    let (status, inbox) = api.get(&person, "/tasks").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let title_in = |items: &Value, id: TaskInstanceId| {
        items["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["taskInstanceId"] == json!(id))
            .map(|i| i["title"].clone())
            .unwrap()
    };
    assert_eq!(title_in(&inbox, id), title);
    assert_eq!(title_in(&inbox, untitled.task_instance_id), Value::Null);
    let (_, view) = api.get(&person, &format!("/tasks/{id}")).await;
    assert_eq!(view["title"], title, "{view}");
    let (_, form) = api.get(&person, &format!("/tasks/{id}/form")).await;
    assert_eq!(form["title"], title, "{form}");
    let (_, listed) = api.get(&As::admin(), "/admin/tasks").await;
    assert_eq!(title_in(&listed, id), title);

    // A template that cannot render is refused at registration, saying where.
    let mut broken = approval();
    broken["title"] = json!("Approve {employee");
    let (status, problem) = api
        .call(
            &As::admin(),
            Method::PUT,
            "/definitions/approve",
            Some(broken),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["path"], "title", "{problem}");
}

#[tokio::test]
async fn inbox_views_hold_only_the_callers_tasks_and_cost_no_body_while_nothing_changed() {
    let t = TestStack::new().await.unwrap();
    let def = t.register(approval()).await.unwrap();
    let api = Api::serve(&t).await;
    let hers = assigned(&t, &def, AssigneeType::User, "alice").await;
    let groups = assigned(&t, &def, AssigneeType::Group, "finance").await;
    assigned(&t, &def, AssigneeType::Group, "audit").await;
    assigned(&t, &def, AssigneeType::User, "bob").await;
    let alice = As::user("alice", &["finance"]);
    let ids = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["taskInstanceId"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (status, mine) = api.get(&alice, "/tasks?view=mine").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(ids(&mine), [hers.task_instance_id.to_string()]);
    let (_, unclaimed) = api.get(&alice, "/tasks?view=unclaimed&sort=priority").await;
    assert_eq!(ids(&unclaimed), [groups.task_instance_id.to_string()]);
    let (_, counts) = api.get(&alice, "/tasks/counts").await;
    assert_eq!(
        counts,
        json!({ "mine": { "count": 1, "more": false }, "unclaimed": { "count": 1, "more": false }, "completed": { "count": 0, "more": false } })
    );
    // Someone in no group, holding nothing, sees nothing of anyone's.
    let mallory = As::user("mallory", &[]);
    for view in ["mine", "unclaimed", "completed"] {
        let (_, page) = api.get(&mallory, &format!("/tasks?view={view}")).await;
        assert!(ids(&page).is_empty(), "{view}: {page}");
    }
    // A cursor naming a place outside the view's own keys is refused.
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({ "inbox-due|ASSIGNEE#GROUP#finance|ASSIGNED#": "CANCELLED#0" }).to_string(),
    );
    for bad in [
        format!("view=unclaimed&cursor={forged}"),
        "view=everything".to_owned(),
        "view=mine&due=yesterday".to_owned(),
        "view=mine&sort=name".to_owned(),
        "view=completed&due=overdue".to_owned(),
    ] {
        let (status, body) = api.get(&alice, &format!("/tasks?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // The same answer again costs no body; a change answers in full.
    let url = format!("{}/tasks?view=unclaimed", api.base);
    let token = alice.0.clone().unwrap();
    let first = api.http.get(&url).bearer_auth(&token).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    // The page again, with the ETag of the first answer.
    let with_etag = || async {
        api.http
            .get(&url)
            .bearer_auth(&token)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap()
    };
    let again = with_etag().await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    let (status, _) = api
        .post(
            &alice,
            &format!("/tasks/{}/claim", groups.task_instance_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let changed = with_etag().await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let page: Value = changed.json().await.unwrap();
    assert!(ids(&page).is_empty(), "claimed: no longer the group's");
}

#[tokio::test]
async fn the_inbox_searches_declared_fields_and_filters_by_definition_within_the_callers_tasks() {
    let mut searchable = approval();
    searchable["manual"]["searchable"] = json!({ "employee": "text", "amount": "number" });
    let (t, mut events, runner) = TestStack::running([searchable]).await;
    let api = Api::serve(&t).await;
    let mut ids = std::collections::BTreeMap::new();
    for (employee, amount) in [("Alice Smith", 120), ("Alan", 80), ("Bob", 500)] {
        // Filed before the event goes out: whoever hears of it finds it.
        let input = json!({ "employee": employee, "amount": amount });
        ids.insert(
            employee,
            submitted_and_assigned(&api, &mut events, input).await,
        );
    }
    let alice = As::user("alice", &["finance"]);
    let found = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
            .iter()
            .map(|i| i["taskInstanceId"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let of = |names: &[&str]| names.iter().map(|n| ids[n].clone()).collect::<Vec<_>>();
    let unclaimed = "/tasks?view=unclaimed&definition=approve";
    for (query, expected) in [
        ("field=employee&prefix=AL", of(&["Alan", "Alice Smith"])),
        ("field=employee&eq=alice%20smith", of(&["Alice Smith"])),
        ("field=amount&min=100", of(&["Alice Smith", "Bob"])),
        ("field=amount&min=80&max=120", of(&["Alan", "Alice Smith"])),
        ("field=employee&prefix=z", vec![]),
    ] {
        let (status, page) = api.get(&alice, &format!("{unclaimed}&{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(found(&page), expected, "{query}: {page}");
    }
    let (_, all) = api.get(&alice, unclaimed).await;
    assert_eq!(found(&all).len(), 3, "{all}");
    let (_, counts) = api
        .get(
            &alice,
            "/tasks/counts?definition=approve&field=employee&prefix=al",
        )
        .await;
    assert_eq!(counts["unclaimed"]["count"], 2, "{counts}");
    assert_eq!(counts["mine"]["count"], 0, "{counts}");

    // Claimed, Alan's task moves from the group's search to hers.
    let (status, _) = api
        .post(&alice, &format!("/tasks/{}/claim", ids["Alan"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    events
        .wait_for_type("task.claimed", Some(&ids["Alan"]), WAIT)
        .await
        .unwrap();
    let (_, mine) = api
        .get(
            &alice,
            "/tasks?view=mine&definition=approve&field=employee&prefix=al",
        )
        .await;
    assert_eq!(found(&mine), of(&["Alan"]), "{mine}");
    let (_, group) = api
        .get(&alice, &format!("{unclaimed}&field=employee&prefix=al"))
        .await;
    assert_eq!(found(&group), of(&["Alice Smith"]), "{group}");

    // The filter offers the definition, with its fields, to whom its tasks may come.
    let (_, offered) = api.get(&alice, "/tasks/definitions").await;
    assert_eq!(
        offered["items"],
        json!([{ "name": "approve", "searchable": { "amount": "number", "employee": "text" } }])
    );
    // Nobody finds tasks they do not hold, nor learns what a definition
    // not offered to them declares: its fields answer as undeclared ones.
    let mallory = As::user("mallory", &["audit"]);
    let (_, offered) = api.get(&mallory, "/tasks/definitions").await;
    assert_eq!(offered["items"], json!([]), "not a name of theirs");
    for view in ["mine", "unclaimed", "completed"] {
        let (status, page) = api
            .get(&mallory, &format!("/tasks?view={view}&definition=approve"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(found(&page).is_empty(), "{view}: {page}");
        let (status, declared) = api
            .get(
                &mallory,
                &format!("/tasks?view={view}&definition=approve&field=amount&min=0"),
            )
            .await;
        let (_, undeclared) = api
            .get(
                &mallory,
                &format!("/tasks?view={view}&definition=approve&field=nothing&min=0"),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{declared}");
        assert_eq!(
            declared["detail"]
                .as_str()
                .map(|d| d.replace("amount", "nothing")),
            undeclared["detail"].as_str().map(str::to_owned),
            "the same answer as a field that does not exist"
        );
    }
    for bad in [
        "view=mine&field=employee&eq=bob",
        "view=mine&definition=approve&field=comment&eq=x",
        "view=mine&definition=approve&field=amount&prefix=1",
        "view=mine&definition=approve&field=employee&min=a",
        "view=mine&definition=approve&field=amount&min=lots",
        "view=mine&definition=approve&field=amount&min=9&max=1",
        "view=mine&definition=approve&field=employee&eq=a&prefix=b",
        "view=mine&definition=approve&field=employee",
        "view=mine&definition=approve&eq=bob",
        "view=mine&definition=approve&field=employee&eq=bob&sort=priority",
        "view=mine&definition=approve&field=employee&eq=bob&due=today",
    ] {
        let (status, body) = api.get(&alice, &format!("/tasks?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // A group whose name extends hers (`finance#x`) holds a task. Its entries
    // sit under `ASSIGNEE#GROUP#finance#x#approve#…`: the key alice's own
    // group would give for a definition named `x#approve`.
    let approve = t
        .engine
        .definitions()
        .latest(tel_core::domain::DefinitionName::parse("approve").unwrap())
        .await
        .unwrap()
        .unwrap();
    let theirs = Assignee {
        kind: AssigneeType::Group,
        id: "finance#x".into(),
    };
    tel_tests::store_assigned(&t, &approve.definition, theirs).await;
    let member = As::user("xavier", &["finance#x"]);
    let filed = async {
        loop {
            let (_, counts) = api.get(&member, "/tasks/counts?definition=approve").await;
            if counts["unclaimed"]["count"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(WAIT, filed)
        .await
        .expect("the entries are filed");
    for path in [
        "/tasks/counts?definition=x%23approve",
        "/tasks?view=unclaimed&definition=x%23approve",
    ] {
        let (status, body) = api.get(&alice, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    runner.stop().await;
}
