//! Dead letters with the reason each was given up on, and redrive back to
//! the queue they came from (`tel dlq list|redrive` for the console).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::super::ApiState;
use super::super::auth::Caller;
use super::super::body;
use super::super::problem::Problem;
use tel_core::ports::DeadLetterQueues;
use tel_engine::admin::dead_letter_queue;

/// Messages listed per queue at most.
const LIST_MAX: usize = 50;
/// Messages one redrive moves at most (the console can press again).
const REDRIVE_MAX: usize = 500;

fn dead_letter_queues(state: &ApiState) -> Result<&dyn DeadLetterQueues, Problem> {
    state
        .queues
        .dead_letter_queues
        .as_deref()
        .ok_or_else(|| Problem::unavailable("this API was started without its queues"))
}

pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let mut queues = Vec::new();
    for queue in &state.queues.dead_letters {
        let letters = dead_letter_queue::list(
            dead_letter_queues(&state)?,
            state.engine.dead_letters().as_ref(),
            &queue.url,
            &queue.source_url,
            LIST_MAX,
        )
        .await
        .map_err(|e| Problem::unavailable_because(e.as_ref()))?;
        queues.push(json!({ "queue": queue.name, "letters": letters }));
    }
    Ok(Json(json!({ "queues": queues })))
}

pub async fn redrive(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let queue = state
        .queues
        .dead_letter_queue(&name)
        .ok_or_else(|| Problem::not_found(format!("no dead-letter queue {name:?}")))?;
    let definition = body::query_pairs(query.as_deref())
        .into_iter()
        .find(|(key, value)| key == "definition" && !value.is_empty())
        .map(|(_, value)| value);
    let queues = dead_letter_queues(&state)?;
    let moved = match definition {
        // Only the messages naming one definition's tasks; the rest stay.
        Some(definition) => {
            let only = dead_letter_queue::naming_definition(
                queues,
                state.engine.tasks().as_ref(),
                &queue.url,
                &definition,
                REDRIVE_MAX,
            )
            .await
            .map_err(|e| Problem::unavailable_because(e.as_ref()))?;
            queues
                .redrive_only(&queue.url, &queue.source_url, &only, &mut |_| {})
                .await
        }
        None => {
            queues
                .redrive(&queue.url, &queue.source_url, REDRIVE_MAX, &mut |_| {})
                .await
        }
    }
    .map_err(|e| Problem::unavailable_because(&e))?;
    Ok(Json(json!({ "queue": queue.name, "moved": moved })))
}
