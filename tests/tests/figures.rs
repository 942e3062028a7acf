//! The console's chart figures against the emulator: what the running
//! pipeline did is counted by definition and minute (created, completed,
//! failed, failed attempts by error code, attempt times), the queues'
//! depths are kept by the sweeper, and only those who may read a
//! definition's tasks see its figures.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tel_core::domain::TaskInstanceId;
use tel_engine::handlers::sweeper::Sweeper;
use tel_tests::TestStack;
use tel_tests::api::{Api, As};
use tel_tests::weighing::{weigh, weighing};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_charts_count_what_the_pipeline_did_and_only_the_definitions_readers_see_them() {
    let (t, mut events, _runner) = TestStack::running([weighing(
        "weigh",
        json!({ "read": { "groups": ["warehouse"] } }),
    )])
    .await;
    let bodies = weigh(&t, &mut events, "weigh", 8, 3).await;
    let failed = TaskInstanceId::parse(bodies[8]["taskInstanceId"].as_str().unwrap()).unwrap();
    let code = t.task(failed).await.unwrap().error.unwrap().code;

    let api = Api::serve(&t).await;
    let reader = As::user("wendy", &["warehouse"]);
    // Counted after the events go out: wait for the publisher's last batch.
    let began = Instant::now();
    let figures = loop {
        let (status, figures) = api.get(&reader, "/definitions/weigh/figures").await;
        assert_eq!(status, StatusCode::OK, "{figures}");
        if figures["totals"]["completed"] == 8 && figures["totals"]["failed"] == 3 {
            break figures;
        }
        assert!(began.elapsed() < WAIT, "{figures}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let totals = &figures["totals"];
    assert_eq!(totals["created"], 11, "{totals}");
    assert_eq!(totals["cancelled"], 0);
    assert_eq!(totals["attempts"], 11, "every attempt's time: {totals}");
    assert_eq!(totals["errors"], json!({ code.clone(): 3 }), "{totals}");
    let (p50, p95) = (
        totals["p50Ms"].as_i64().unwrap(),
        totals["p95Ms"].as_i64().unwrap(),
    );
    assert!(0 <= p50 && p50 <= p95, "{totals}");
    assert_eq!(figures["stepMinutes"], 1);
    let points = figures["points"].as_array().unwrap();
    assert_eq!(points.len(), 60, "one point a minute over the hour");
    let completed: u64 = points
        .iter()
        .map(|p| p["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(completed, 8, "the steps add up to the totals");

    // The attack: mallory may not read weigh's tasks, so its figures do not
    // exist for her (without the guard she reads them).
    let (status, body) = api
        .get(&As::user("mallory", &[]), "/definitions/weigh/figures")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = api
        .get(&As::admin(), "/definitions/weigh/figures?minutes=10080")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .get(&reader, "/definitions/weigh/figures?minutes=2")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The sweeper keeps each minute's queue depths; only admins read them.
    Sweeper::new(t.engine.clone()).sweep().await;
    let (status, depths) = api.get(&As::admin(), "/admin/queue-depths").await;
    assert_eq!(status, StatusCode::OK, "{depths}");
    // The latest sampled step (the minute may have turned since the sweep).
    let last = depths["points"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|p| !p["queues"].as_object().unwrap().is_empty())
        .expect("a sampled minute")
        .clone();
    for queue in ["requests", "validate", "execute", "manual"] {
        assert!(
            last["queues"][queue]["waiting"].is_u64(),
            "{queue} sampled: {last}"
        );
    }
    let (status, _) = api.get(&reader, "/admin/queue-depths").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
