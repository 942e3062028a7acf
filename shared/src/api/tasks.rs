//! Submitting requests, reading tasks and inboxes, and manual-task forms.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::auth::Caller;
use super::body;
use super::problem::Problem;
use super::{ApiState, form};
use std::collections::BTreeMap;

use crate::domain::{
    Assignee, AssigneeType, ExecutionRequest, PayloadField, TaskInstance, TaskStatus, TaskType,
};
use crate::ports::PageRequest;

/// What `caller` may do to `task` now.
pub fn actions_for(task: &TaskInstance, caller: &Caller) -> Vec<&'static str> {
    let holds = task.assignee.as_ref().is_some_and(|a| caller.holds(a));
    let mut actions = Vec::new();
    match task.status {
        TaskStatus::Assigned if holds => actions.extend(["claim", "complete"]),
        TaskStatus::Claimed if holds => actions.extend(["unclaim", "complete"]),
        TaskStatus::Claimed if caller.admin => actions.push("unclaim"),
        _ => {}
    }
    if caller.admin {
        if matches!(
            task.status,
            TaskStatus::Created | TaskStatus::Assigned | TaskStatus::Claimed
        ) && task.task_type == Some(TaskType::Manual)
        {
            actions.push("reassign");
        }
        if !task.status.is_terminal() {
            actions.push("cancel");
        }
        if matches!(task.status, TaskStatus::Failed | TaskStatus::TimedOut) {
            actions.push("retry");
        }
    }
    actions
}

/// Admins see every task; others see unassigned tasks and those they hold.
pub fn may_view(task: &TaskInstance, caller: &Caller) -> bool {
    caller.admin || task.assignee.as_ref().is_none_or(|a| caller.holds(a))
}

pub async fn load(state: &ApiState, id: &str, caller: &Caller) -> Result<TaskInstance, Problem> {
    let id = body::task_id(id)?;
    let task = state
        .engine
        .tasks()
        .get(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no task {id}")))?;
    if !may_view(&task, caller) {
        return Err(Problem::forbidden("this task is assigned to someone else"));
    }
    Ok(task)
}

pub async fn submit(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<impl IntoResponse, Problem> {
    let request = ExecutionRequest::parse(body::json(&bytes)?).map_err(|r| {
        let mut problem = Problem::invalid("VALIDATION_ERROR", r.error.message);
        if !r.error.details.is_null() {
            problem = problem.with_errors(r.error.details["problems"].clone());
        }
        problem
    })?;
    if state
        .engine
        .definitions()
        .resolve(&request.definition)
        .await?
        .is_none()
    {
        return Err(Problem::invalid(
            "UNKNOWN_DEFINITION",
            format!("no task definition {} is registered", request.definition),
        ));
    }
    let trace = headers
        .get("traceparent")
        .or_else(|| headers.get("x-amzn-trace-id"))
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty() && t.len() <= 512)
        .map(str::to_owned);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| format!("api:{}:{k}", caller.user));
    let task = state
        .requests
        .accept(request, key.as_deref(), trace)
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    let id = task.task_instance_id;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({ "taskInstanceId": id, "status": task.status, "href": format!("/tasks/{id}") }),
        ),
    ))
}

pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let mut task = load(&state, &id, &caller).await?;
    let urls = with_payloads(&state, &mut task).await?;
    let actions = actions_for(&task, &caller);
    let history = &task.history;
    let mut view = json!({ "task": task, "history": history, "actions": actions });
    if !urls.is_empty() {
        view["payloadUrls"] = json!(urls);
    }
    Ok(Json(view))
}

/// Payloads stored elsewhere up to this size are returned inline; larger
/// ones as a presigned URL (a Lambda response carries at most 6 MB).
pub const INLINE_PAYLOAD_BYTES: u64 = 1024 * 1024;
/// How long a payload URL works.
const PAYLOAD_URL_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Loads the task's payloads stored elsewhere that are small enough to return
/// inline, and gives, by field, a presigned URL for the others.
async fn with_payloads(
    state: &ApiState,
    task: &mut TaskInstance,
) -> Result<BTreeMap<&'static str, String>, Problem> {
    let mut urls = BTreeMap::new();
    for field in PayloadField::ALL {
        let Some(at) = task.payload(field).1.clone() else {
            continue;
        };
        if at.size <= INLINE_PAYLOAD_BYTES {
            state.engine.load_payloads(task, &[field]).await?;
        } else if let Some(store) = state.engine.payloads() {
            urls.insert(
                field.as_str(),
                store.presign(&at, PAYLOAD_URL_VALID_FOR).await?,
            );
        }
    }
    Ok(urls)
}

pub async fn inbox(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let mut page = PageRequest::default();
    let mut status = None;
    for (key, value) in body::query_pairs(query.as_deref()) {
        match key.as_str() {
            "status" => {
                status = Some(
                    TaskStatus::parse(&value)
                        .ok_or_else(|| Problem::bad_request(format!("unknown status {value:?}")))?,
                )
            }
            "limit" => {
                let limit = value.parse::<i32>().ok().filter(|l| (1..=100).contains(l));
                page.limit =
                    Some(limit.ok_or_else(|| {
                        Problem::bad_request("limit must be a number from 1 to 100")
                    })?);
            }
            "cursor" => page.cursor = Some(value),
            _ => {}
        }
    }
    let mut assignees = vec![Assignee {
        kind: AssigneeType::User,
        id: caller.user.clone(),
    }];
    assignees.extend(caller.groups.iter().map(|g| Assignee {
        kind: AssigneeType::Group,
        id: g.clone(),
    }));
    let page = state.engine.tasks().inbox(&assignees, status, page).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            json!({
                "taskInstanceId": t.task_instance_id, "definition": t.definition_ref(), "status": t.status,
                "assignee": t.assignee, "dueAt": t.due_at, "priority": t.priority, "createdAt": t.created_at,
                "workflowInstanceId": t.workflow_instance_id, "stepId": t.step_id, "actions": actions_for(t, &caller),
            })
        })
        .collect();
    Ok(Json(
        json!({ "items": items, "nextCursor": page.next_cursor }),
    ))
}

pub async fn form(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let mut task = load(&state, &id, &caller).await?;
    if task.task_type != Some(TaskType::Manual) {
        return Err(Problem::not_found(format!(
            "task {id} is not a manual task and has no form"
        )));
    }
    let loaded = state
        .engine
        .definitions()
        .exact(&task.definition_name, task.definition_version)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "definition {} no longer exists",
                task.definition_ref()
            ))
        })?;
    state
        .engine
        .load_payloads(&mut task, &[PayloadField::Input])
        .await?;
    Ok(Json(form::render(
        &task,
        &loaded.definition,
        &actions_for(&task, &caller),
    )))
}
