//! The inbox and the operator console in a real browser: headless Chromium
//! (Debian's package) driven by Playwright (`ui/tests/browser/`), against
//! the API and pipeline of a fresh stack. A person opens the inbox, loses
//! the race for one task to a colleague (the 409, explained), opens another,
//! submits an invalid form and sees the errors at the fields, corrects it and
//! completes it; an admin pages the console, cancels, retries and
//! reassigns tasks, and redrives a dead letter from it. This test then checks, on the stack, that
//! each of those happened: the completion's event with the output the page
//! entered, the cancellation's, and the redriven request's task.
//!
//! Needs `npm ci` in `ui/` and Chromium (`apt-get install chromium`); set
//! `TEL_CHROMIUM` for another browser binary and `TEL_UI_SCREENSHOTS` to a
//! folder to keep the pages' screenshots (docs/ui/ was made that way).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tel_core::domain::{Assignee, AssigneeType, Creation, TaskDefinition};
use tel_tests::TestStack;
use tel_tests::api::{Api, As};
use tel_tests::oidc_issuer::FakeIssuer;

const WAIT: Duration = Duration::from_secs(30);
/// Tasks per page of the console's list (`ui/src/pages/Console.jsx`).
const CONSOLE_PAGE: usize = 25;
/// The browser script's whole run, Chromium's start included.
const BROWSER_RUN: Duration = Duration::from_secs(180);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

fn chromium() -> String {
    std::env::var("TEL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// What the browser test needs from outside the workspace, said plainly when missing.
fn check_prerequisites(root: &Path) {
    assert!(
        root.join("ui/node_modules/playwright-core").is_dir(),
        "the browser test needs the UI's packages: run `npm ci` in ui/ (scripts/test does)"
    );
    assert!(
        Path::new(&chromium()).exists(),
        "the browser test needs Chromium at {}: `apt-get install chromium` (or set TEL_CHROMIUM)",
        chromium()
    );
}

/// Runs one of `ui/tests/browser/`'s scripts to its end; its output goes to the test's.
async fn run_browser(script: &str, vars: &[(&str, &str)]) {
    let root = repo_root();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(root.join("ui/tests/browser").join(script))
        .current_dir(root.join("ui"))
        .env("TEL_CHROMIUM", chromium())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in vars {
        command.env(key, value);
    }
    let mut browser = command.spawn().expect("node runs the browser script");
    let status = tokio::time::timeout(BROWSER_RUN, browser.wait())
        .await
        .expect("the browser script finishes in time")
        .unwrap();
    assert!(status.success(), "{script} failed (its output is above)");
}

async fn register_the_example(t: &TestStack) -> TaskDefinition {
    let definition: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/definitions/approve-expense.json"))
            .unwrap(),
    )
    .unwrap();
    t.register(definition).await.unwrap()
}

async fn submit(api: &Api, who: &As, input: Value, workflow: &str) -> String {
    let (status, body) = api
        .post(
            who,
            "/tasks",
            json!({ "taskDefinitionId": "approve-expense", "workflowInstanceId": workflow, "stepId": "approve", "input": input }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["taskInstanceId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_person_works_a_task_and_an_admin_operates_in_the_browser() {
    check_prerequisites(&repo_root());
    let t = TestStack::new().await.unwrap();
    let expenses = register_the_example(&t).await;
    let runner = t.run_pipeline().unwrap();
    let mut events = t.watch_events().await.unwrap();
    let api = Api::serve(&t).await;

    let person = As::user("dana", &["finance"]);
    let other = As::user("erik", &["finance"]);
    let admin = As::admin();
    let expense =
        json!({ "employee": "Dana Ortiz", "amount": 412.8, "reason": "Lyon workshop travel" });
    let to_complete = submit(&api, &person, expense.clone(), "wf-browser-1").await;
    let to_cancel = submit(&api, &person, expense.clone(), "wf-browser-2").await;
    for id in [&to_complete, &to_cancel] {
        events
            .wait_for_type("task.assigned", Some(id), WAIT)
            .await
            .unwrap();
    }
    // A task past its due time that the sweeper has not reached yet: its
    // card carries the overdue mark.
    let overdue = {
        let now = chrono::Utc::now();
        let finance = Assignee {
            kind: AssigneeType::Group,
            id: "finance".into(),
        };
        let mut task = tel_tests::assigned_task(&expenses, finance);
        task.input = json!({ "employee": "Erik Lund", "amount": 96, "reason": "Taxi" });
        task.due_at = Some(now - chrono::Duration::hours(1));
        task.deadlines.clear();
        task.wake_at = None;
        t.engine.tasks().create(&task).await.unwrap();
        task.task_instance_id.to_string()
    };
    // A task that failed (its input does not match), for the console to retry.
    let failed = submit(
        &api,
        &person,
        json!({ "employee": "Dana Ortiz", "amount": -5, "reason": "negative" }),
        "wf-browser-failed",
    )
    .await;
    events
        .wait_for_type("task.failed", Some(&failed), WAIT)
        .await
        .unwrap();
    // More tasks than one console page holds, for its paging (and one to reassign).
    let filler = t
        .register(
            json!({ "name": "filler", "type": "manual", "manual": { "assignment": { "strategy": "group", "id": "ops" } }, "outputSchema": { "type": "object" } }),
        )
        .await
        .unwrap();
    let mut fillers = Vec::new();
    for _ in 0..CONSOLE_PAGE {
        let now = chrono::Utc::now();
        let creation = Creation::new(tel_tests::new_task(&filler), now, now);
        t.engine.tasks().create(&creation.task).await.unwrap();
        fillers.push(creation.task.task_instance_id.to_string());
    }
    let to_reassign = &fillers[0];
    // A request given up on during an outage, waiting in the dead-letter queue.

    let redriven_workflow = "wf-browser-redriven";
    t.sqs()
        .send_message()
        .queue_url(t.queue_url("RequestsDeadLetterQueue"))
        .message_body(
            json!({ "taskDefinitionId": "approve-expense", "workflowInstanceId": redriven_workflow, "stepId": "approve", "input": expense })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    // And one of another definition, which the console's filtered redrive leaves.
    t.sqs()
        .send_message()
        .queue_url(t.queue_url("RequestsDeadLetterQueue"))
        .message_body(
            json!({ "taskDefinitionId": "filler", "workflowInstanceId": "wf-browser-left", "stepId": "s", "input": {} })
                .to_string(),
        )
        .send()
        .await
        .unwrap();

    run_browser(
        "inbox-and-console.mjs",
        &[
            ("TEL_UI_BASE", &api.base),
            ("TEL_UI_USER_TOKEN", person.0.as_deref().unwrap()),
            ("TEL_UI_OTHER_TOKEN", other.0.as_deref().unwrap()),
            ("TEL_UI_ADMIN_TOKEN", admin.0.as_deref().unwrap()),
            ("TEL_UI_TASK", &to_complete),
            ("TEL_UI_CANCEL_TASK", &to_cancel),
            ("TEL_UI_FAILED_TASK", &failed),
            ("TEL_UI_OVERDUE_TASK", &overdue),
            ("TEL_UI_REASSIGN_TASK", to_reassign),
        ],
    )
    .await;

    // The completion, with the output the page entered.
    let completed = events
        .wait_for_type("task.completed", Some(&to_complete), WAIT)
        .await
        .unwrap();
    tel_tests::conforms(&completed).unwrap();
    assert_eq!(
        completed["detail"]["output"],
        json!({ "approved": true, "approvedAmount": 400, "costCentre": "engineering", "comment": "Within the travel policy; hotel capped." })
    );
    let task = t.task(to_complete.parse().unwrap()).await.unwrap();
    assert!(
        task.history
            .iter()
            .any(|h| h.action == "claimed" && h.actor.as_deref() == Some("dana")),
        "the claim was the person's: {:?}",
        task.history
    );

    // The admin's cancellation, with the reason typed in the console.
    let cancelled = events
        .wait_for_type("task.cancelled", Some(&to_cancel), WAIT)
        .await
        .unwrap();
    assert_eq!(
        cancelled["detail"]["reason"],
        "Duplicate of an earlier claim"
    );

    // The admin's retry ran the failed task again, then the replay with the
    // corrected input got it through validation to finance; the reassignment holds.
    let rerun = t.task(failed.parse().unwrap()).await.unwrap();
    assert!(
        rerun
            .history
            .iter()
            .any(|h| h.action == "rerun" && h.actor.as_deref() == Some("root")),
        "the retry is the admin's: {:?}",
        rerun.history
    );
    assert!(
        rerun
            .history
            .iter()
            .any(|h| h.action == "replayed" && h.actor.as_deref() == Some("root")),
        "the replay is the admin's: {:?}",
        rerun.history
    );
    assert_eq!(rerun.input["amount"], json!(5));
    events
        .wait_for_type("task.assigned", Some(&failed), WAIT)
        .await
        .unwrap();
    let reassigned = t.task(to_reassign.parse().unwrap()).await.unwrap();
    assert_eq!(
        reassigned.assignee.map(|a| (a.kind, a.id)),
        Some((AssigneeType::User, "dana".to_owned()))
    );

    // The redriven request became a task; the other definition's stayed.
    let created = events
        .wait_for(WAIT, |e| {
            e["detail-type"] == "task.created"
                && e["detail"]["workflowInstanceId"] == redriven_workflow
        })
        .await
        .unwrap();
    tel_tests::conforms(&created).unwrap();
    let (status, letters) = api.get(&admin, "/admin/dead-letters").await;
    assert_eq!(status, StatusCode::OK);
    let requests = letters["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "requests")
        .expect("the requests queue's dead letters are listed");
    let left = requests["letters"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{requests}");
    assert!(
        left[0]["body"]
            .as_str()
            .unwrap()
            .contains("wf-browser-left")
    );

    runner.stop().await;
}

/// On AWS the page signs in through the issuer the API trusts: here a fake
/// one, whose token endpoint refuses any verifier but the one whose S256
/// challenge went out with the code, and an API that checks its tokens.
#[tokio::test]
async fn the_page_signs_in_through_the_issuer_with_pkce() {
    check_prerequisites(&repo_root());
    let issuer = FakeIssuer::start("tel-ui", "ola", "Ola Nordmann", &["finance"]).await;
    let t = TestStack::new().await.unwrap();
    register_the_example(&t).await;
    let runner = t.run_pipeline().unwrap();
    let mut events = t.watch_events().await.unwrap();
    let api = Api::serve_with(&t, issuer.auth_config()).await;
    let ola = As(Some(issuer.token()));
    let task = submit(
        &api,
        &ola,
        json!({ "employee": "Ola Nordmann", "amount": 12, "reason": "Taxi" }),
        "wf-sign-in",
    )
    .await;
    events
        .wait_for_type("task.assigned", Some(&task), WAIT)
        .await
        .unwrap();

    run_browser(
        "sign-in.mjs",
        &[
            ("TEL_UI_BASE", &api.base),
            ("TEL_UI_TASK", &task),
            ("TEL_UI_PERSON", "Ola Nordmann"),
            // A link carrying someone else's token (the API would take it)
            // must not sign Ola in as them.
            (
                "TEL_UI_FOREIGN_TOKEN",
                &issuer.token_for("mallory", "Mallory"),
            ),
        ],
    )
    .await;

    {
        let log = issuer.log();
        let first = log
            .authorizations
            .first()
            .expect("the page went to the issuer");
        assert_eq!(first["code_challenge_method"], "S256");
        assert_eq!(first["client_id"], "tel-ui");
        assert_eq!(first["redirect_uri"], format!("{}/ui", api.base));
        assert_eq!(first["code_challenge"].len(), 43, "a SHA-256 in base64url");
        assert_eq!(
            log.exchanges,
            [Ok(())],
            "one exchange, with the matching verifier"
        );
    }
    runner.stop().await;
}

/// The keys manual-assign would give `task` for its definition's searchable fields.
fn searchable(
    definition: &TaskDefinition,
    task: &tel_core::domain::TaskInstance,
) -> std::collections::BTreeMap<String, String> {
    let manual = definition.manual.as_ref().expect("a manual definition");
    manual.search_keys(&task.input, &task.context)
}

#[tokio::test]
async fn the_inbox_views_count_sort_narrow_search_and_refresh_themselves_in_the_browser() {
    check_prerequisites(&repo_root());
    let t = TestStack::new().await.unwrap();
    let expenses = register_the_example(&t).await;
    let runner = t.run_pipeline().unwrap();
    let api = Api::serve(&t).await;
    let person = As::user("dana", &["finance"]);
    let now = chrono::Utc::now();
    let minutes = chrono::Duration::minutes;
    let finance = Assignee {
        kind: AssigneeType::Group,
        id: "finance".into(),
    };
    // The group's tasks, created one after the other: (employee, due, priority).
    let spec = [
        ("Amy Fox", Some(now + chrono::Duration::days(3)), 1),
        ("Ben Ode", Some(now - minutes(1)), 0),
        ("Cleo Park", Some(now + minutes(2)), 9),
        ("Dee Lo", None, 5),
    ];
    let mut titles = Vec::new();
    for (i, (employee, due, priority)) in spec.into_iter().enumerate() {
        let mut task = tel_tests::assigned_task(&expenses, finance.clone());
        task.input = json!({ "employee": employee, "amount": i + 1, "reason": "views" });
        task.search_keys = searchable(&expenses, &task);
        task.created_at = now + chrono::Duration::milliseconds(i as i64);
        task.due_at = due;
        task.priority = priority;
        task.deadlines.clear();
        task.wake_at = None;
        t.engine.tasks().create(&task).await.unwrap();
        titles.push(format!("Approve {employee}'s expense of {} EUR", i + 1));
    }
    // Hers alone, and one she completed.
    let dana = Assignee {
        kind: AssigneeType::User,
        id: "dana".into(),
    };
    let mut own = tel_tests::assigned_task(&expenses, dana);
    own.input = json!({ "employee": "Eve Ng", "amount": 5, "reason": "views" });
    own.search_keys = searchable(&expenses, &own);
    own.due_at = Some(now + chrono::Duration::days(2));
    own.deadlines.clear();
    own.wake_at = None;
    t.engine.tasks().create(&own).await.unwrap();
    let mut done = tel_tests::assigned_task(&expenses, finance.clone());
    done.input = json!({ "employee": "Fay Moss", "amount": 6, "reason": "views" });
    done.search_keys = searchable(&expenses, &done);
    done.deadlines.clear();
    done.wake_at = None;
    t.engine.tasks().create(&done).await.unwrap();
    let (status, body) = api
        .post(
            &person,
            &format!("/tasks/{}/complete", done.task_instance_id),
            json!({ "output": { "approved": true, "approvedAmount": 6, "costCentre": "sales", "comment": "Fine, within policy." } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    run_browser(
        "inbox-views.mjs",
        &[
            ("TEL_UI_BASE", &api.base),
            ("TEL_UI_USER_TOKEN", person.0.as_deref().unwrap()),
            (
                "TEL_UI_VIEW_TITLES",
                &serde_json::to_string(&titles).unwrap(),
            ),
            ("TEL_UI_MINE_TITLE", "Approve Eve Ng's expense of 5 EUR"),
            ("TEL_UI_DONE_TITLE", "Approve Fay Moss's expense of 6 EUR"),
        ],
    )
    .await;
    // The claim from the list was the person's.
    let (_, claimed) = api.get(&person, "/tasks?view=mine&sort=created").await;
    assert!(
        claimed.to_string().contains("Cleo Park"),
        "the claimed task is hers: {claimed}"
    );
    runner.stop().await;
}

#[tokio::test]
async fn an_admin_counts_confirms_and_follows_a_bulk_retry_in_the_browser() {
    check_prerequisites(&repo_root());
    let t = TestStack::new().await.unwrap();
    let charge = t
        .register(json!({
            "name": "charge", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ charged: i.n })" },
            "retry": { "maxAttempts": 1 }
        }))
        .await
        .unwrap();
    let failed = |code: &str| {
        let now = chrono::Utc::now();
        Creation::new(tel_tests::new_task(&charge), now, now)
            .then(
                tel_core::domain::Action::Fail {
                    error: tel_core::domain::TaskError::new(code, "the card service was down"),
                },
                now,
            )
            .unwrap()
            .task
    };
    let mut selected = Vec::new();
    for _ in 0..12 {
        let task = failed("INTEGRATION_ERROR");
        t.engine.tasks().create(&task).await.unwrap();
        selected.push(task.task_instance_id);
    }
    let other = failed("VALIDATION_ERROR");
    t.engine.tasks().create(&other).await.unwrap();
    let runner = t.run_pipeline().unwrap();
    let api = Api::serve(&t).await;
    let admin = As::admin();

    run_browser(
        "console-bulk.mjs",
        &[
            ("TEL_UI_BASE", &api.base),
            ("TEL_UI_ADMIN_TOKEN", admin.0.as_deref().unwrap()),
            ("TEL_UI_DEFINITION", "charge"),
            ("TEL_UI_ERROR_CODE", "INTEGRATION_ERROR"),
            ("TEL_UI_MATCHING", "12"),
        ],
    )
    .await;
    // Each selected task ran again and, the pipeline running, completed; the other did not move.
    let began = std::time::Instant::now();
    for id in selected {
        loop {
            let task = t.task(id).await.unwrap();
            if task.status == tel_core::domain::TaskStatus::Completed {
                assert_eq!(
                    task.history.iter().filter(|h| h.action == "rerun").count(),
                    1
                );
                break;
            }
            assert!(began.elapsed() < WAIT, "{task:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let other = t.task(other.task_instance_id).await.unwrap();
    assert_eq!(other.status, tel_core::domain::TaskStatus::Failed);
    runner.stop().await;
}

#[tokio::test]
async fn an_admin_reads_a_definitions_charts_and_the_queue_depths_in_the_browser() {
    use tel_core::domain::figures::{Counts, Depth, DepthSample, FigureKey, minute_of};
    check_prerequisites(&repo_root());
    let (t, mut events, runner) =
        TestStack::running([tel_tests::weighing::weighing("weigh", json!({}))]).await;
    // The half hour before, as the publisher and the sweeper would have
    // counted it: an incident 20 minutes ago (a downstream failing, the
    // execute queue backing up), so the charts have a shape to show.
    let now = minute_of(chrono::Utc::now());
    let mut earlier = std::collections::BTreeMap::new();
    for ago in 1..=30i64 {
        let minute = now - chrono::Duration::minutes(ago);
        let incident = (15..=22).contains(&ago);
        let failing = if incident { 6 + (ago % 3) as u64 } else { 0 };
        let counts = Counts {
            created: 20 + (ago % 5) as u64,
            completed: 20 + (ago % 5) as u64 - failing,
            failed: failing,
            errors: [("INTEGRATION_ERROR".to_owned(), failing)]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect(),
            durations: [
                (24 + (ago % 4) as u32, 16),
                (
                    28 + (ago % 3) as u32 + if incident { 5 } else { 0 },
                    4 + failing,
                ),
            ]
            .into(),
            ..Counts::default()
        };
        earlier.insert(
            FigureKey {
                definition: "weigh".into(),
                minute,
            },
            counts,
        );
        let waiting = if incident {
            40 + 10 * (22 - ago) as u64
        } else {
            ago as u64 % 3
        };
        t.engine
            .figures()
            .record_depths(&DepthSample {
                minute,
                queues: [
                    (
                        "execute".to_owned(),
                        Depth {
                            waiting,
                            in_flight: 5,
                        },
                    ),
                    (
                        "validate".to_owned(),
                        Depth {
                            waiting: ago as u64 % 2,
                            in_flight: 0,
                        },
                    ),
                ]
                .into(),
            })
            .await
            .unwrap();
    }
    t.engine.figures().add_figures(&earlier).await.unwrap();
    let seeded: u64 = earlier.values().map(|c| c.created).sum();
    let seeded_errors: u64 = earlier.values().map(|c| c.failed).sum();

    // And now: 12 weighed, 4 failed, through the running pipeline.
    tel_tests::weighing::weigh(&t, &mut events, "weigh", 12, 4).await;
    let api = Api::serve(&t).await;
    let admin = As::admin();
    let created = seeded + 16;
    let began = std::time::Instant::now();
    loop {
        let (_, figures) = api.get(&admin, "/definitions/weigh/figures").await;
        if figures["totals"]["created"] == created
            && figures["totals"]["failed"] == seeded_errors + 4
        {
            break;
        }
        assert!(began.elapsed() < WAIT, "{}", figures["totals"]);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    run_browser(
        "console-charts.mjs",
        &[
            ("TEL_UI_BASE", &api.base),
            ("TEL_UI_ADMIN_TOKEN", admin.0.as_deref().unwrap()),
            ("TEL_UI_DEFINITION", "weigh"),
            (
                "TEL_UI_TOTALS",
                &format!(
                    "{created} created, {} completed, {} failed, 0 cancelled",
                    created - seeded_errors - 4,
                    seeded_errors + 4
                ),
            ),
            (
                "TEL_UI_FAILURES",
                &format!("INTEGRATION_ERROR {seeded_errors}, EXECUTION_ERROR 4"),
            ),
        ],
    )
    .await;
    runner.stop().await;
}
