//! Submitting requests, reading tasks and inboxes, and manual-task forms.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::access::{may_read, visible_task};
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use super::{ApiState, form, uploads};
use tel_core::domain::timeline::timeline;
use tel_core::domain::{
    Assignee, AssigneeType, ExecutionRequest, PayloadField, PayloadRef, Permission, TaskInstance,
    TaskStatus, TaskType,
};
use tel_core::ports::PageRequest;

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
    // A task token answers a waiting Step Functions step: whoever holds one
    // could end another workflow's step with an output of their choosing.
    // Steps send their requests to the queue or the bus (IAM-guarded); the
    // API, open to people and services alike, takes none.
    if request.task_token.is_some() {
        return Err(Problem::bad_request(
            "taskToken is not accepted by the API: a Step Functions step sends its request to the requests queue or the bus",
        ));
    }
    let definition = state
        .engine
        .definitions()
        .resolve(&request.definition)
        .await?;
    // Decided by the latest version's rules, whichever version is named.
    let rules = state
        .engine
        .definitions()
        .latest_access(request.definition.name.as_str())
        .await?;
    let may_submit = caller.may(&rules, Permission::Submit);
    // Whether a definition exists is itself only for those who may use it.
    match &definition {
        Some(_) if may_submit => {}
        None if may_submit || caller.admin => {
            return Err(Problem::invalid(
                "UNKNOWN_DEFINITION",
                format!("no task definition {} is registered", request.definition),
            ));
        }
        _ => {
            return Err(Problem::forbidden(format!(
                "you may not submit tasks of {}",
                request.definition
            )));
        }
    }
    if let Some(at) = &request.input_ref {
        uploads::check_input_ref(&caller, at)?;
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
        .accept(request, key.as_deref(), trace, Some(caller.requester()))
        .await
        .map_err(|e| Problem::unavailable_because(&e))?;
    let id = task.task_instance_id;
    // A repeated id answers with the task, to whoever may see it; to anyone
    // else it is an id they may not use, said without its status or definition.
    let task_rules = state
        .engine
        .definitions()
        .latest_access(&task.definition_name)
        .await?;
    if !may_read(&task, &task_rules, &caller) {
        return Err(taken(id));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({ "taskInstanceId": id, "status": task.status, "href": format!("/tasks/{id}") }),
        ),
    ))
}

/// The answer for a `taskInstanceId` the caller may not use: the same
/// whatever the task it names is.
fn taken(id: tel_core::domain::TaskInstanceId) -> Problem {
    Problem::conflict(format!(
        "taskInstanceId {id} is not available: choose another"
    ))
}

pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let mut visible = visible_task(&state, &id, &caller).await?;
    let urls = with_payloads(&state, &mut visible.task).await?;
    let actions = visible.actions(&caller);
    let task = &visible.task;
    let title = state.engine.definitions().title_of(task).await;
    let timeline = timeline(&task.history, state.engine.now());
    let mut view = json!({
        "task": task, "title": title, "history": task.history, "timeline": timeline,
        "traceId": task.trace_id, "actions": actions,
    });
    if !urls.is_empty() {
        view["payloadUrls"] = json!(urls);
    }
    let previous = previous_inputs(&state, task).await?;
    if !previous.is_empty() {
        view["previousInputs"] = Value::Array(previous);
    }
    Ok(Json(view))
}

/// The inputs a replay replaced, oldest first: each inline (read back from
/// the payload store while they add up to `INLINE_PAYLOAD_BYTES`) or as a
/// presigned URL; one that cannot be read any more (the bucket's lifecycle
/// rule removed it) is marked unavailable rather than failing the view.
async fn previous_inputs(state: &ApiState, task: &TaskInstance) -> Result<Vec<Value>, Problem> {
    let mut out = Vec::new();
    let mut inline_bytes = 0;
    for entry in task.history.iter().filter(|h| h.action == "replayed") {
        let mut item = json!({ "version": entry.version, "at": entry.at, "by": entry.actor });
        let reference = entry
            .details
            .get("previousInputRef")
            .and_then(|r| serde_json::from_value::<PayloadRef>(r.clone()).ok());
        if let Some(input) = entry.details.get("previousInput") {
            item["input"] = input.clone();
        } else if let Some(at) = reference {
            if inline_bytes + at.size <= INLINE_PAYLOAD_BYTES {
                match state.engine.read_payload(&at).await {
                    Ok(input) => {
                        inline_bytes += at.size;
                        item["input"] = input;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, version = entry.version, "a replaced input is not readable");
                        item["unavailable"] = json!(true);
                    }
                }
            } else if let Some(store) = state.engine.payloads() {
                item["url"] = json!(store.presign(&at, PAYLOAD_URL_VALID_FOR).await?);
            }
        } else {
            item["unavailable"] = json!(true);
        }
        out.push(item);
    }
    Ok(out)
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

/// `GET /tasks`: a view of the caller's inbox (`view=`, see `views`), or
/// without one every task they or their groups hold, by status then age.
pub async fn inbox(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, Problem> {
    let pairs = body::query_pairs(query.as_deref());
    if pairs.iter().any(|(key, _)| key == "view") {
        let page = super::views::view(&state, &caller, query.as_deref()).await?;
        return Ok(super::views::tagged(&headers, page));
    }
    let mut page = PageRequest::default();
    let mut status = None;
    for (key, value) in pairs {
        match key.as_str() {
            "status" => {
                status = Some(
                    TaskStatus::parse(&value)
                        .ok_or_else(|| Problem::bad_request(format!("unknown status {value:?}")))?,
                )
            }
            "limit" => page.limit = Some(body::limit(&value, 100)?),
            "cursor" => page.cursor = Some(value),
            _ => {}
        }
    }
    // The caller's own tasks and their groups': each one they hold, so each
    // one they may see.
    let mut assignees = vec![Assignee {
        kind: AssigneeType::User,
        id: caller.user.clone(),
    }];
    assignees.extend(caller.groups.iter().map(|g| Assignee {
        kind: AssigneeType::Group,
        id: g.clone(),
    }));
    let page = state.engine.tasks().inbox(&assignees, status, page).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for t in &page.items {
        items.push(super::views::inbox_item(&state, &caller, t).await?);
    }
    Ok(super::views::tagged(
        &headers,
        json!({ "items": items, "nextCursor": page.next_cursor }),
    ))
}

pub async fn form(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let mut visible = visible_task(&state, &id, &caller).await?;
    if visible.task.task_type != Some(TaskType::Manual) {
        return Err(Problem::not_found(format!(
            "task {id} is not a manual task and has no form"
        )));
    }
    let loaded = visible.definition.clone().ok_or_else(|| {
        Problem::not_found(format!(
            "definition {} no longer exists",
            visible.task.definition_ref()
        ))
    })?;
    state
        .engine
        .load_payloads(&mut visible.task, &[PayloadField::Input])
        .await?;
    Ok(Json(form::render(
        &visible.task,
        &loaded.definition,
        &visible.actions(&caller),
    )))
}
