//! Access rules per definition and per integration, through the API, with
//! every kind of caller: admin, starter, another submitter, reader, worker,
//! manager, assignee group member, stranger.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, request};

const WAIT: Duration = Duration::from_secs(60);

fn expense() -> Value {
    json!({
        "name": "expense", "type": "manual",
        "inputSchema": { "type": "object" },
        "outputSchema": { "type": "object", "required": ["approved"], "properties": { "approved": { "type": "boolean" } } },
        "manual": { "assignment": { "strategy": "group", "id": "finance" } },
        "access": {
            "submit": { "users": ["svc-a", "svc-b"] },
            "read": { "groups": ["audit"] },
            "work": { "groups": ["approvers"] },
            "manage": { "groups": ["platform"] }
        }
    })
}

fn compute() -> Value {
    json!({
        "name": "compute", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => ({ n: i.n + 1 })" },
        "access": { "submit": { "users": ["svc-a"] } }
    })
}

async fn status_of(api: &Api, who: &As, path: &str) -> StatusCode {
    api.get(who, path).await.0
}

#[tokio::test]
async fn each_caller_sees_and_does_what_the_rules_say() {
    let (t, mut events, runner) = TestStack::running([expense(), compute()]).await;
    let api = Api::serve(&t).await;
    let admin = As::admin();
    let svc_a = As::user("svc-a", &[]);
    let svc_b = As::user("svc-b", &[]);
    let auditor = As::user("ann", &["audit"]);
    let approver = As::user("abe", &["approvers"]);
    let manager = As::user("pat", &["platform"]);
    let member = As::user("fay", &["finance"]);
    let stranger = As::user("sid", &["sales"]);

    // Submitting: the definition's submitters (and admins) only; a reader cannot.
    let (status, accepted) = api
        .post(&svc_a, "/tasks", request("expense", json!({})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let mine = accepted["taskInstanceId"].as_str().unwrap().to_owned();
    for who in [&auditor, &stranger, &member] {
        let (status, _) = api.post(who, "/tasks", request("expense", json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = api
        .post(&svc_b, "/tasks", request("compute", json!({ "n": 1 })))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "svc-b may submit expense, not compute"
    );
    let (status, computed) = api
        .post(&svc_a, "/tasks", request("compute", json!({ "n": 1 })))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let computed = computed["taskInstanceId"].as_str().unwrap().to_owned();
    events
        .wait_for_type("task.assigned", Some(&mine), WAIT)
        .await
        .unwrap();
    events
        .wait_for_type("task.completed", Some(&computed), WAIT)
        .await
        .unwrap();

    // Reading a task: a stranger (and another submitter) cannot tell it exists.
    let path = format!("/tasks/{mine}");
    for (who, expected) in [
        (&admin, StatusCode::OK),
        (&svc_a, StatusCode::OK),
        (&auditor, StatusCode::OK),
        (&approver, StatusCode::OK),
        (&manager, StatusCode::OK),
        (&member, StatusCode::OK),
        (&svc_b, StatusCode::NOT_FOUND),
        (&stranger, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(status_of(&api, who, &path).await, expected, "GET {path}");
        assert_eq!(
            status_of(&api, who, &format!("{path}/form")).await,
            expected,
            "GET {path}/form"
        );
    }
    // A task of a definition with no read rule: its starter and admins only.
    let path = format!("/tasks/{computed}");
    assert_eq!(status_of(&api, &svc_a, &path).await, StatusCode::OK);
    assert_eq!(status_of(&api, &admin, &path).await, StatusCode::OK);
    assert_eq!(status_of(&api, &svc_b, &path).await, StatusCode::NOT_FOUND);

    // What each may do, as the API says it and as it answers.
    let actions = |v: &Value| v["actions"].clone();
    let (_, seen) = api.get(&member, &format!("/tasks/{mine}")).await;
    assert_eq!(actions(&seen), json!(["claim", "complete"]));
    let (_, seen) = api.get(&approver, &format!("/tasks/{mine}")).await;
    assert_eq!(
        actions(&seen),
        json!(["claim", "complete"]),
        "workers beyond the assignment"
    );
    let (_, seen) = api.get(&auditor, &format!("/tasks/{mine}")).await;
    assert_eq!(actions(&seen), json!([]));
    let (_, seen) = api.get(&manager, &format!("/tasks/{mine}")).await;
    assert_eq!(
        actions(&seen),
        json!(["claim", "complete", "reassign", "cancel"])
    );
    let (_, form) = api.get(&approver, &format!("/tasks/{mine}/form")).await;
    assert_eq!(form["actions"], json!(["claim", "complete"]));

    let claim = format!("/tasks/{mine}/claim");
    assert_eq!(
        api.post(&stranger, &claim, json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post(&auditor, &claim, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.post(&svc_a, &claim, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let cancel = format!("/tasks/{mine}/cancel");
    assert_eq!(
        api.post(&approver, &cancel, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, claimed) = api.post(&approver, &claim, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let (status, done) = api
        .post(
            &approver,
            &format!("/tasks/{mine}/complete"),
            json!({ "output": { "approved": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    // The inbox shows what one holds; a stranger holds nothing.
    let (_, inbox) = api.get(&stranger, "/tasks").await;
    assert_eq!(inbox["items"], json!([]));

    // Definitions: seen by those with any rule on them; the code by managers only.
    for who in [&stranger, &member] {
        assert_eq!(
            status_of(&api, who, "/definitions/compute").await,
            StatusCode::NOT_FOUND
        );
    }
    let (status, seen) = api.get(&svc_a, "/definitions/compute").await;
    assert_eq!(status, StatusCode::OK);
    assert!(seen.get("implementation").is_none(), "{seen}");
    assert!(seen.get("inputSchema").is_some());
    let (_, seen) = api.get(&admin, "/definitions/compute").await;
    assert_eq!(seen["implementation"]["kind"], "javascript");
    let (_, seen) = api.get(&manager, "/definitions/expense").await;
    assert!(
        seen.get("implementation").is_none(),
        "a manual task has none"
    );
    assert_eq!(seen["access"]["manage"]["groups"], json!(["platform"]));

    // Registering: a new version by its managers, a new name by admins.
    let put = |name: &str, body: Value| (Method::PUT, format!("/definitions/{name}"), body);
    for who in [&stranger, &svc_a, &auditor, &approver] {
        let (method, path, body) = put("expense", expense());
        assert_eq!(
            api.call(who, method, &path, Some(body)).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let (method, path, body) = put("expense", expense());
    let (status, registered) = api.call(&manager, method, &path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let (method, path, body) = put("brand-new", compute());
    let brand_new = json!({ "name": "brand-new", "type": "automated", "implementation": body["implementation"] });
    assert_eq!(
        api.call(&manager, method.clone(), &path, Some(brand_new.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call(&admin, method, &path, Some(brand_new)).await.0,
        StatusCode::CREATED
    );
    runner.stop().await;
}

#[tokio::test]
async fn naming_an_integration_in_a_definition_needs_leave_to_use_it() {
    let t = TestStack::new().await.unwrap();
    let api = Api::serve(&t).await;
    let admin = As::admin();
    let manager = As::user("pat", &["platform"]);
    let crm = |users: Value| {
        json!({
            "name": "crm", "baseUrl": "https://api.crm.example/v2",
            "access": { "use": { "users": users }, "manage": { "groups": ["crm-owners"] } }
        })
    };
    let (status, body) = api
        .call(
            &admin,
            Method::PUT,
            "/integrations/crm",
            Some(crm(json!(["someone"]))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let caller = json!({
        "name": "sync", "type": "integration",
        "implementation": { "kind": "http", "integration": "crm", "request": { "method": "GET", "path": "/ping" } },
        "access": { "manage": { "groups": ["platform"] } }
    });
    // An admin creates the definition; its manager may not point a new version at crm.
    let (status, body) = api
        .call(
            &admin,
            Method::PUT,
            "/definitions/sync",
            Some(caller.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, problem) = api
        .call(
            &manager,
            Method::PUT,
            "/definitions/sync",
            Some(caller.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("integration crm")
    );
    assert_eq!(
        status_of(&api, &manager, "/integrations/crm").await,
        StatusCode::NOT_FOUND
    );
    // Given leave to use it, they may.
    let (status, _) = api
        .call(
            &admin,
            Method::PUT,
            "/integrations/crm",
            Some(crm(json!(["pat"]))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        status_of(&api, &manager, "/integrations/crm").await,
        StatusCode::OK
    );
    let (status, body) = api
        .call(&manager, Method::PUT, "/definitions/sync", Some(caller))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Only the integration's managers (and admins) register its versions.
    let (status, _) = api
        .call(
            &manager,
            Method::PUT,
            "/integrations/crm",
            Some(crm(json!(["pat"]))),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let owner = As::user("oz", &["crm-owners"]);
    let (status, _) = api
        .call(
            &owner,
            Method::PUT,
            "/integrations/crm",
            Some(crm(json!(["pat", "oz"]))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}
