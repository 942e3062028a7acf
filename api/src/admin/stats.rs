//! What `tel stats` shows, for the console: queue depths, tasks by status,
//! throughput and attempt times. Tasks are read a page at a time up to a cap,
//! so one look costs a bounded read however large the table grows; past the
//! cap the figures say they are partial (CloudWatch has the whole picture).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::super::ApiState;
use super::super::auth::Caller;
use super::super::problem::Problem;
use tel_shared::adapters::dynamo::scan::TableContents;
use tel_shared::admin::stats::summarize;
use tel_shared::ports::{PageRequest, TaskFilter};

/// Tasks one look reads at most.
const MAX_TASKS: usize = 5_000;
/// Attempt times are over this window, as `tel stats` shows by default.
const WINDOW_MINUTES: i64 = 15;

pub async fn show(State(state): State<ApiState>, caller: Caller) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let mut contents = TableContents::default();
    let mut cursor = None;
    loop {
        let page = PageRequest {
            limit: Some(200),
            cursor,
        };
        let page = state
            .engine
            .tasks()
            .list(&TaskFilter::default(), page)
            .await?;
        page.items.into_iter().for_each(|t| contents.add(t));
        cursor = page.next_cursor;
        if cursor.is_none() || contents.tasks.len() >= MAX_TASKS {
            break;
        }
    }
    let mut stats = summarize(
        &contents,
        state.engine.clock().now(),
        chrono::Duration::minutes(WINDOW_MINUTES),
    );
    for (name, url) in &state.queues.all {
        let depth = state
            .engine
            .queues()
            .depth(url)
            .await
            .map_err(|e| Problem::unavailable(format!("reading the {name} queue: {e}")))?;
        stats
            .queues
            .insert(name.clone(), (depth.waiting, depth.in_flight));
    }
    let mut view = serde_json::to_value(&stats).map_err(|e| Problem::unavailable(e.to_string()))?;
    view["tasksRead"] = json!(contents.tasks.len());
    view["partial"] = json!(cursor.is_some());
    view["windowMinutes"] = json!(WINDOW_MINUTES);
    Ok(Json(view))
}
