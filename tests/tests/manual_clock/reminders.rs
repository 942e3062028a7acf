//! A manual task's clock: reminders, escalation and the due time each fire
//! once, in order, and `onDue` decides what the due time does.

use serde_json::json;
use tel_core::clock::Clock;
use tel_core::domain::TaskStatus;

use super::*;

#[tokio::test]
async fn reminders_escalation_and_the_due_time_fire_once_each_in_order() {
    let p = pipeline();
    for definition in tel_tests::timed_approvals() {
        register(&p, definition).await;
    }
    let start = p.clock.now();
    let id = submit(&p, "approve", json!({})).await;
    let by_default = submit(&p, "approve-by-default", json!({})).await;
    assert_eq!(types_of(&p, id), ["task.created", "task.assigned"]);

    // What has fired about `approve` after each step of the clock.
    for (to, expect) in [
        (29, vec![]),
        (31, vec![]),
        (59, vec![]),
        (61, vec!["task.reminder"]),
        (119, vec![]),
        (121, vec!["task.escalated"]),
        (299, vec![]),
        (301, vec!["task.timed_out", "task.failed"]),
        (600, vec![]),
    ] {
        let before = types_of(&p, id).len();
        let elapsed = (p.clock.now() - start).to_std().unwrap();
        p.advance(seconds(to) - elapsed).await.unwrap();
        assert_eq!(types_of(&p, id)[before..], expect, "by +{to}s");
        if to == 31 {
            let done = last_event(&p, by_default, "task.completed");
            assert_eq!(done["output"], json!({ "approved": true, "by": "default" }));
        }
    }
    let events = events_of(&p, id);
    let times: Vec<chrono::DateTime<chrono::Utc>> = events
        .iter()
        .map(|(_, e)| e["occurredAt"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
    let escalated = last_event(&p, id, "task.escalated");
    assert_eq!(
        (
            escalated["assigneeType"].as_str(),
            escalated["assigneeId"].as_str()
        ),
        (Some("USER"), Some("cfo"))
    );
    let task = p.task(id).await.unwrap();
    assert_eq!(task.status, TaskStatus::TimedOut);
    assert!(task.deadlines.is_empty());
}
