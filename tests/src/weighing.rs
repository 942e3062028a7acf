//! A workload of tasks that complete and tasks that fail, through the running
//! pipeline: what the chart figures' tests count.

use std::time::Duration;

use serde_json::{Value, json};

use super::{EventWatcher, TestStack, request};

/// An automated definition whose script fails when the input says `fail`
/// (`EXECUTION_ERROR`, no retry), with `access` as given.
pub fn weighing(name: &str, access: Value) -> Value {
    json!({
        "name": name, "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => { if (i.fail) throw new Error('scale broken'); return { grams: i.n * 1000 }; }" },
        "retry": { "maxAttempts": 1 },
        "access": access
    })
}

/// Sends `completing` requests of `definition` that complete and `failing`
/// ones that fail, and waits for each one's end on the bus; returns the
/// requests, the completing ones first.
pub async fn weigh(
    t: &TestStack,
    events: &mut EventWatcher,
    definition: &str,
    completing: usize,
    failing: usize,
) -> Vec<Value> {
    let bodies: Vec<Value> = (0..completing)
        .map(|n| request(definition, json!({ "n": n })))
        .chain((0..failing).map(|_| request(definition, json!({ "n": 1, "fail": true }))))
        .collect();
    t.send_requests(&bodies.iter().map(Value::to_string).collect::<Vec<_>>())
        .await
        .expect("the requests are sent");
    for (i, body) in bodies.iter().enumerate() {
        let end = if i < completing {
            "task.completed"
        } else {
            "task.failed"
        };
        let id = body["taskInstanceId"].as_str().expect("an id");
        events
            .wait_for_type(end, Some(id), Duration::from_secs(60))
            .await
            .expect("each task ends");
    }
    bodies
}
