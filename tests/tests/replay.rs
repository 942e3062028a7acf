//! Replay with corrected input, through the API against the emulator: a
//! task that failed on bad data runs again with the input a manager edited,
//! checked against the schema first; the task keeps its id and workflow, the
//! history says who replaced the input, and the input it had stays readable.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tel_tests::TestStack;
use tel_tests::api::{Api, As};

const WAIT: Duration = Duration::from_secs(30);

fn halve() -> Value {
    json!({
        "name": "halve", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => { if (i.n % 2) throw new Error('odd: ' + i.n); return { half: i.n / 2 }; }" },
        "inputSchema": { "type": "object", "required": ["n"], "properties": { "n": { "type": "integer" } } },
        "retry": { "maxAttempts": 1 },
        "access": { "submit": { "groups": ["ops"] }, "read": { "groups": ["ops", "viewers"] }, "manage": { "groups": ["ops"] } }
    })
}

#[tokio::test]
async fn a_manager_replays_a_failed_task_with_corrected_input_and_the_old_input_stays_readable() {
    let (t, mut events, runner) = TestStack::running([halve()]).await;
    let api = Api::serve(&t).await;
    let ops = As::user("olga", &["ops"]);
    let (status, body) = api
        .post(
            &ops,
            "/tasks",
            json!({ "taskDefinitionId": "halve", "workflowInstanceId": "wf-replay", "stepId": "s", "input": { "n": 7 } }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    events
        .wait_for_type("task.failed", Some(&id), WAIT)
        .await
        .unwrap();
    let replay = format!("/tasks/{id}/replay");

    // Who may replay: the definition's managers only; a reader may not.
    let viewer = As::user("vic", &["viewers"]);
    let (status, _) = api
        .post(&viewer, &replay, json!({ "input": { "n": 8 } }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The corrected input is checked before anything is written.
    let (status, problem) = api
        .post(&ops, &replay, json!({ "input": { "n": "eight" } }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "VALIDATION_ERROR");
    assert_eq!(problem["errors"][0]["pointer"], "/n", "{problem}");
    let (_, view) = api.get(&ops, &format!("/tasks/{id}")).await;
    assert_eq!(view["task"]["status"], "FAILED", "nothing written: {view}");

    let (status, replayed) = api
        .post(&ops, &replay, json!({ "input": { "n": 8 } }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    let completed = events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    assert_eq!(completed["detail"]["output"], json!({ "half": 4 }));
    assert_eq!(completed["detail"]["workflowInstanceId"], "wf-replay");

    let (_, view) = api.get(&ops, &format!("/tasks/{id}")).await;
    assert_eq!(view["task"]["input"], json!({ "n": 8 }));
    let entry = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "replayed")
        .expect("the replay is in the history")
        .clone();
    assert_eq!(entry["actor"], "olga", "{entry}");
    assert!(
        entry["details"]["previousInputRef"]["key"].is_string(),
        "{entry}"
    );
    assert_eq!(
        view["previousInputs"],
        json!([{ "version": entry["version"], "at": entry["at"], "by": "olga", "input": { "n": 7 } }]),
        "the input it had, readable"
    );
    // Done is done: a completed task is not replayed.
    let (status, _) = api
        .post(&ops, &replay, json!({ "input": { "n": 2 } }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    runner.stop().await;
}
