//! The inbox views at scale: with many open tasks held by one group, how
//! long the first page of each view takes through the HTTP API, and what it
//! asks of DynamoDB (each lane's `Query` is limited to a page and one key,
//! then one `BatchGetItem` of the page's tasks), beside the count of each;
//! and the same for the filter by definition and the search of a declared
//! field (the search entries' index, filed as the publisher files them).

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde_json::json;
use tel_core::domain::manual::ManualSettings;
use tel_core::domain::{
    Action, Assignee, AssigneeType, Creation, NewTask, SearchEntries, TaskInstanceId,
};
use tel_engine::EngineBuilder;
use tel_tests::TestStack;
use tel_tests::api::{Api, As};

use super::stats::summarize;

/// First pages read per view.
const ROUNDS: usize = 40;

/// The employees the tasks are about (each name then the task's number).
const NAMES: [&str; 8] = ["Ann", "Maria", "Jon", "Li", "Sven", "Ola", "Kai", "Eve"];

pub async fn run(open: usize) -> anyhow::Result<()> {
    let t = TestStack::new().await?;
    let (counted, calls) = crate::call_count::counting(&t.sdk);
    let engine = Arc::new(EngineBuilder::aws(&counted, &t.stack.config()?).build());
    let group = Assignee {
        kind: AssigneeType::Group,
        id: "finance".into(),
    };
    let manual = json!({
        "assignment": { "strategy": "group", "id": "finance" },
        "searchable": { "employee": "text", "amount": "number" }
    });
    t.register(json!({
        "name": "approve", "type": "manual", "title": "Approve #{n}",
        "outputSchema": { "type": "object" },
        "manual": manual
    }))
    .await?;
    let settings: ManualSettings = serde_json::from_value(manual)?;
    let now = chrono::Utc::now();
    let started = Instant::now();
    // Open tasks for the group: due times spread over a month (a tenth
    // overdue, a tenth with none), priorities 0 to 9.
    futures::stream::iter((0..open).map(|i| {
        let tasks = t.engine.tasks().clone();
        let group = group.clone();
        let settings = settings.clone();
        async move {
            let due = match i % 10 {
                0 => None,
                1 => Some(now - chrono::Duration::minutes(i as i64 % 600 + 1)),
                _ => Some(now + chrono::Duration::minutes((i * 37 % 43_200) as i64)),
            };
            let new = NewTask {
                task_instance_id: TaskInstanceId::new(),
                definition_name: "approve".into(),
                definition_version: 1,
                task_type: None,
                workflow_instance_id: format!("wf-{i}"),
                step_id: "approve".into(),
                input: json!({ "n": i, "employee": format!("{} {i}", NAMES[i % NAMES.len()]), "amount": i % 1000 }),
                context: serde_json::Value::Null,
                priority: (i % 10) as i32,
                trace_id: None,
                requested_by: None,
                callback: None,
            };
            let assign = Action::Assign {
                assignee: group,
                due_at: due,
                schedule: Some(settings),
                escalated: false,
                by: None,
            };
            let mut task = Creation::new(new, now, now).then(assign, now)?.task;
            task.deadlines.clear();
            task.wake_at = None;
            tasks.create(&task).await?;
            // What the publisher does once the stream carries the write.
            let entries = SearchEntries::of(&task);
            tasks
                .file_search(task.task_instance_id, None, entries.as_ref())
                .await?;
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<anyhow::Result<Vec<()>>>()?;
    println!(
        "{open} open tasks for one group stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let api = Api::serve_engine(&t, engine).await;
    let person = As::user("dana", &["finance", "audit", "travel"]);
    for path in [
        "/tasks?view=unclaimed",
        "/tasks?view=unclaimed&sort=priority",
        "/tasks?view=unclaimed&sort=created",
        "/tasks?view=unclaimed&due=overdue",
        "/tasks?view=unclaimed&due=week",
        "/tasks?view=mine",
        "/tasks/counts",
        "/tasks?view=unclaimed&definition=approve",
        "/tasks?view=unclaimed&definition=approve&sort=priority",
        "/tasks?view=unclaimed&definition=approve&field=employee&prefix=maria",
        "/tasks?view=unclaimed&definition=approve&field=employee&eq=maria%204241",
        "/tasks?view=unclaimed&definition=approve&field=amount&min=100&max=199",
        "/tasks/counts?definition=approve&field=employee&prefix=maria",
    ] {
        let mut times = Vec::new();
        calls.reset();
        let mut shown = 0;
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let (status, page) = api.get(&person, path).await;
            times.push(start.elapsed());
            anyhow::ensure!(status.is_success(), "{path}: {status} {page}");
            shown = page["items"].as_array().map_or(0, Vec::len);
        }
        let usage = calls.snapshot();
        let per = |op: &str| usage.calls.get(op).copied().unwrap_or(0) as f64 / ROUNDS as f64;
        println!(
            "{path:<72} {} | per page: {shown} tasks, {:.1} Query, {:.1} BatchGetItem, {:.0} keys read in batches",
            summarize(times),
            per("Query"),
            per("BatchGetItem"),
            usage.eventual_reads as f64 / ROUNDS as f64,
        );
    }
    Ok(())
}
