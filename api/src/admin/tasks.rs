//! Every task by status and definition, and the events a task's history published.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::super::ApiState;
use super::super::access::visible_task;
use super::super::auth::Caller;
use super::super::body;
use super::super::problem::Problem;
use tel_core::domain::{EVENT_SOURCE, TaskStatus, events_of};
use tel_core::ports::{PageRequest, TaskFilter};

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let mut filter = TaskFilter::default();
    let mut page = PageRequest::default();
    for (key, value) in body::query_pairs(query.as_deref()) {
        match key.as_str() {
            "status" => {
                filter.status = Some(
                    TaskStatus::parse(&value)
                        .ok_or_else(|| Problem::bad_request(format!("unknown status {value:?}")))?,
                )
            }
            "definition" if !value.is_empty() => filter.definition_name = Some(value),
            "limit" => page.limit = Some(body::limit(&value, 200)?),
            "cursor" => page.cursor = Some(value),
            _ => {}
        }
    }
    let page = state.engine.tasks().list(&filter, page).await?;
    let mut items: Vec<Value> = Vec::with_capacity(page.items.len());
    for t in &page.items {
        let title = state.engine.definitions().title_of(t).await;
        items.push(json!({
            "taskInstanceId": t.task_instance_id, "definition": t.definition_ref(), "title": title,
            "status": t.status, "taskType": t.task_type, "assignee": t.assignee, "attempt": t.attempt,
            "createdAt": t.created_at, "updatedAt": t.updated_at, "dueAt": t.due_at,
            "workflowInstanceId": t.workflow_instance_id, "stepId": t.step_id,
        }));
    }
    Ok(Json(
        json!({ "items": items, "nextCursor": page.next_cursor }),
    ))
}

/// The events each transition of the task published, oldest first, as the
/// publisher derives them from the task's history.
pub async fn events(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let visible = visible_task(&state, &id, &caller).await?;
    let task = &visible.task;
    let items: Vec<Value> = task
        .history
        .iter()
        .flat_map(|entry| events_of(task, entry))
        .map(|event| {
            json!({ "detailType": event.detail_type(), "source": EVENT_SOURCE, "detail": event })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
