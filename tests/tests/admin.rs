//! The operator console's API on the real store: every task by status and
//! definition across pages, a task's events, the figures, the definitions'
//! catalogue, and that only admins reach any of it.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tel_core::domain::{Assignee, AssigneeType, Creation, TaskDefinition};
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, new_task};

fn manual(name: &str) -> Value {
    json!({ "name": name, "type": "manual", "manual": { "assignment": { "strategy": "group", "id": "finance" } }, "outputSchema": { "type": "object" } })
}

/// Stores `count` tasks of `definition`, assigned to finance when `assign`.
async fn store(t: &TestStack, definition: &TaskDefinition, count: usize, assign: bool) {
    for _ in 0..count {
        if assign {
            let finance = Assignee {
                kind: AssigneeType::Group,
                id: "finance".into(),
            };
            tel_tests::store_assigned(t, definition, finance).await;
        } else {
            let now = Utc::now();
            let creation = Creation::new(new_task(definition), now, now);
            t.engine.tasks().create(&creation.task).await.unwrap();
        }
    }
}

/// Every page of `/admin/tasks` with `query`, following the cursor.
async fn all_pages(api: &Api, query: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/tasks?{query}&limit=3&cursor={c}"),
            None => format!("/admin/tasks?{query}&limit=3"),
        };
        let (status, page) = api.get(&As::admin(), &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn admins_list_every_task_by_status_and_definition_across_pages() {
    let t = TestStack::new().await.unwrap();
    let approve = t.register(manual("approve")).await.unwrap();
    let review = t.register(manual("review")).await.unwrap();
    store(&t, &approve, 5, true).await;
    store(&t, &approve, 2, false).await;
    store(&t, &review, 4, true).await;
    let api = Api::serve(&t).await;

    let (everything, pages) = all_pages(&api, "").await;
    assert_eq!(everything.len(), 11);
    assert!(pages >= 4, "pages of at most 3: {pages}");
    let mut ids: Vec<&str> = everything
        .iter()
        .map(|t| t["taskInstanceId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 11, "each task once");

    let (assigned_approvals, _) = all_pages(&api, "status=ASSIGNED&definition=approve").await;
    assert_eq!(assigned_approvals.len(), 5);
    assert!(
        assigned_approvals
            .iter()
            .all(|t| t["status"] == "ASSIGNED" && t["definition"] == "approve:1")
    );
    let (reviews, _) = all_pages(&api, "definition=review").await;
    assert_eq!(reviews.len(), 4);

    // A cursor this API did not make is a bad request, not a failure.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"x":"y"}"#);
    let (status, problem) = api
        .get(&As::admin(), &format!("/admin/tasks?cursor={forged}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    // Nobody but admins: not a definition's manager, not the assignee.
    let finance = As::user("fin", &["finance"]);
    for path in [
        "/admin/tasks",
        "/admin/stats",
        "/admin/dead-letters",
        "/admin/definitions",
        &format!("/admin/tasks/{}/events", ids[0]),
    ] {
        let (status, _) = api.get(&finance, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = api
        .post(&finance, "/admin/dead-letters/requests/redrive", json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.get(&As::anonymous(), "/admin/tasks").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_console_reads_figures_events_and_the_catalogue() {
    let t = TestStack::new().await.unwrap();
    let approve = t.register(manual("approve")).await.unwrap();
    let mut second = manual("approve");
    second["description"] = json!("a second version");
    t.register(second).await.unwrap();
    // Registering an unchanged definition again mints nothing and lists nothing new.
    t.register(manual("review")).await.unwrap();
    t.register(manual("review")).await.unwrap();
    store(&t, &approve, 3, true).await;
    store(&t, &approve, 1, false).await;
    let api = Api::serve(&t).await;

    let (status, catalog) = api.get(&As::admin(), "/admin/definitions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        catalog["items"],
        json!([
            { "name": "approve", "latest": 2, "versions": [1, 2] },
            { "name": "review", "latest": 1, "versions": [1] }
        ])
    );

    let (status, stats) = api.get(&As::admin(), "/admin/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["tasksByStatus"]["ASSIGNED"], 3);
    assert_eq!(stats["tasksByStatus"]["CREATED"], 1);
    assert_eq!(stats["tasksRead"], 4);
    assert_eq!(stats["partial"], false);
    // Every queue of the stack, by name, with its depth.
    for queue in ["requests", "execute", "manual", "requests-dead-letter"] {
        assert!(stats["queues"][queue].is_array(), "{queue}: {stats}");
    }

    let (_, page) = api.get(&As::admin(), "/admin/tasks?status=ASSIGNED").await;
    let id = page["items"][0]["taskInstanceId"].as_str().unwrap();
    let (status, events) = api
        .get(&As::admin(), &format!("/admin/tasks/{id}/events"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detailType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["task.created", "task.assigned"]);
    for event in events["items"].as_array().unwrap() {
        assert_eq!(event["detail"]["taskInstanceId"], id);
        tel_tests::conforms(&json!({ "detail-type": event["detailType"], "source": event["source"], "detail": event["detail"] }))
            .unwrap();
    }

    let (status, problem) = api
        .post(
            &As::admin(),
            "/admin/dead-letters/nowhere/redrive",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}
