//! The console's charts: a definition's throughput, attempt times and
//! failures by error code (for whoever may read its tasks), and the queues'
//! depths (admins), over a window ending now. The figures are the counters
//! tel keeps (`tel_core::domain::figures`), read in proportion to the window:
//! one item per definition and minute, one per minute of queue depths.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use tel_core::domain::figures::{Counts, MAX_WINDOW_MINUTES, MIN_WINDOW_MINUTES, Window};
use tel_core::domain::{DefinitionName, Permission};

const DEFAULT_WINDOW_MINUTES: i64 = 60;

/// The window `?minutes=` asks for, ending now.
fn window(state: &ApiState, query: Option<&str>) -> Result<Window, Problem> {
    let mut minutes = DEFAULT_WINDOW_MINUTES;
    for (key, value) in body::query_pairs(query) {
        if key == "minutes" {
            minutes = value
                .parse()
                .ok()
                .filter(|m| (MIN_WINDOW_MINUTES..=MAX_WINDOW_MINUTES).contains(m))
                .ok_or_else(|| {
                    Problem::bad_request(format!(
                        "minutes must be a number from {MIN_WINDOW_MINUTES} to {MAX_WINDOW_MINUTES}"
                    ))
                })?;
        }
    }
    Ok(Window::ending_at(state.engine.clock().now(), minutes))
}

fn window_fields(window: &Window) -> Value {
    json!({
        "from": window.from,
        "until": window.until,
        "stepMinutes": window.step.num_minutes(),
    })
}

fn point(at: Option<DateTime<Utc>>, counts: &Counts) -> Value {
    let mut point = json!({
        "created": counts.created,
        "completed": counts.completed,
        "failed": counts.failed,
        "cancelled": counts.cancelled,
        "attempts": counts.attempts(),
        "p50Ms": counts.percentile(0.5),
        "p95Ms": counts.percentile(0.95),
        "errors": counts.errors,
    });
    if let Some(at) = at {
        point["at"] = json!(at);
    }
    point
}

/// `GET /definitions/{name}/figures?minutes=60`: the definition's figures
/// step by step, and their totals over the window.
pub async fn definition(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let missing = || Problem::not_found(format!("no definition {name}"));
    DefinitionName::parse(&name).map_err(|_| missing())?;
    let rules = state.engine.definitions().latest_access(&name).await?;
    if !caller.may(&rules, Permission::Read) {
        return Err(missing());
    }
    let window = window(&state, query.as_deref())?;
    let minutes = state
        .engine
        .figures()
        .figures(&name, window.from, window.until)
        .await?;
    let series = window.counts(&minutes);
    let mut totals = Counts::default();
    series.iter().for_each(|(_, counts)| totals.add(counts));
    let mut answer = window_fields(&window);
    answer["definition"] = json!(name);
    answer["points"] = series
        .iter()
        .map(|(at, counts)| point(Some(*at), counts))
        .collect();
    answer["totals"] = point(None, &totals);
    Ok(Json(answer))
}

/// `GET /admin/queue-depths?minutes=60`: each queue's deepest sample per step.
pub async fn queue_depths(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let window = window(&state, query.as_deref())?;
    let samples = state
        .engine
        .figures()
        .depths(window.from, window.until)
        .await?;
    let mut answer = window_fields(&window);
    answer["points"] = window
        .depths(&samples)
        .iter()
        .map(|sample| json!({ "at": sample.minute, "queues": sample.queues }))
        .collect();
    Ok(Json(answer))
}
