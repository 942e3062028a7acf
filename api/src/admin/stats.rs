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
use tel_engine::admin::stats::{read_tasks, summarize};

/// Tasks one look reads at most.
const MAX_TASKS: usize = 5_000;
/// Attempt times are over this window, as `tel stats` shows by default.
const WINDOW_MINUTES: i64 = 15;

pub async fn show(State(state): State<ApiState>, caller: Caller) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let contents = read_tasks(state.engine.tasks().as_ref(), Some(MAX_TASKS)).await?;
    let mut stats = summarize(
        &contents,
        state.engine.clock().now(),
        chrono::Duration::minutes(WINDOW_MINUTES),
    );
    stats
        .add_queue_depths(state.engine.queues().as_ref(), &state.queues.all)
        .await
        .map_err(|e| Problem::unavailable_because(&e))?;
    let mut view = serde_json::to_value(&stats).map_err(|e| Problem::unavailable(e.to_string()))?;
    view["tasksRead"] = json!(contents.tasks.len());
    view["partial"] = json!(contents.partial);
    view["windowMinutes"] = json!(WINDOW_MINUTES);
    Ok(Json(view))
}
