//! Bulk operations: a definition's managers (and admins) count what a
//! selection matches, start a retry or cancel of all of it, follow its
//! progress and outcome per task, and stop it. An operation is seen by its
//! starter and by whoever may read its definition's tasks; to anyone else
//! it does not exist (404).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use tel_core::domain::operation::{BulkAction, Operation, Selection};
use tel_core::domain::{Permission, TaskStatus};
use tel_core::ports::PageRequest;
use tel_engine::operations::{BulkRequest, OperationError};

impl From<OperationError> for Problem {
    fn from(e: OperationError) -> Self {
        let detail = e.to_string();
        match e {
            OperationError::Store(e) => e.into(),
            OperationError::Selection(_) | OperationError::Rate(_) => Problem::bad_request(detail),
            OperationError::NotManaged(_) | OperationError::NotFound(_) => {
                Problem::not_found(detail)
            }
            OperationError::NotRunning(_) | OperationError::TooMany(_) => Problem::conflict(detail),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SelectionBody {
    definition: String,
    version: Option<u32>,
    #[serde(default)]
    statuses: Vec<TaskStatus>,
    error_code: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl SelectionBody {
    fn selection(self) -> Selection {
        Selection {
            definition: self.definition,
            version: self.version,
            statuses: self.statuses,
            error_code: self.error_code.filter(|c| !c.is_empty()),
            since: self.since,
            // At most when the operation starts (`Selection::for_action`).
            until: self.until.unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StartBody {
    action: BulkAction,
    selection: SelectionBody,
    reason: Option<String>,
    rate_per_second: Option<u32>,
}

/// Longest cancellation reason kept (it goes into each task's history).
const MAX_REASON_CHARS: usize = 500;

/// `GET /operations/matches?action=retry&definition=…`: how many tasks a
/// selection matches now.
pub async fn matches(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let mut action = None;
    let mut body = SelectionBody {
        definition: String::new(),
        version: None,
        statuses: Vec::new(),
        error_code: None,
        since: None,
        until: None,
    };
    let time = |value: &str| {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| Problem::bad_request(format!("{value:?} is not an RFC 3339 time")))
    };
    for (key, value) in body::query_pairs(query.as_deref()) {
        match key.as_str() {
            "action" => {
                action = Some(BulkAction::parse(&value).ok_or_else(|| {
                    Problem::bad_request(format!("unknown action {value:?} (retry, cancel)"))
                })?)
            }
            "definition" => body.definition = value,
            "version" => {
                body.version = Some(value.parse().map_err(|_| {
                    Problem::bad_request(format!("version must be a number, got {value:?}"))
                })?)
            }
            "status" => {
                for status in value.split(',').filter(|s| !s.is_empty()) {
                    body.statuses.push(TaskStatus::parse(status).ok_or_else(|| {
                        Problem::bad_request(format!("unknown status {status:?}"))
                    })?);
                }
            }
            "error" => body.error_code = Some(value),
            "since" => body.since = Some(time(&value)?),
            "until" => body.until = Some(time(&value)?),
            _ => {}
        }
    }
    let action = action.ok_or_else(|| Problem::bad_request("action is required"))?;
    if body.definition.is_empty() {
        return Err(Problem::bad_request("definition is required"));
    }
    let count = state
        .engine
        .count_matching(action, body.selection(), &caller.identity())
        .await?;
    Ok(Json(
        json!({ "count": count.count, "capped": count.capped }),
    ))
}

/// `POST /operations`: starts a bulk retry or cancel; the sweeper runs it.
pub async fn start(
    State(state): State<ApiState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Problem> {
    let body: StartBody = body::typed(&bytes)?;
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(Problem::bad_request(format!(
            "reason is longer than {MAX_REASON_CHARS} characters"
        )));
    }
    let operation = state
        .engine
        .start_operation(
            BulkRequest {
                action: body.action,
                selection: body.selection.selection(),
                reason: body.reason,
                rate_per_second: body.rate_per_second,
            },
            &caller.identity(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view(&operation))))
}

/// `GET /operations`: the operations the caller may see, newest first.
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let page = page_of(query.as_deref(), 100)?;
    let page = state.engine.operations().operations(page).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for operation in &page.items {
        if may_see(&state, operation, &caller).await? {
            items.push(view(operation));
        }
    }
    Ok(Json(
        json!({ "items": items, "nextCursor": page.next_cursor }),
    ))
}

/// `GET /operations/{id}`: its selection, progress and state.
pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let operation = visible(&state, &id, &caller).await?;
    Ok(Json(view(&operation)))
}

/// `GET /operations/{id}/tasks`: what it did to each task.
pub async fn tasks(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let operation = visible(&state, &id, &caller).await?;
    let page = page_of(query.as_deref(), 500)?;
    let page = state
        .engine
        .operations()
        .outcomes(&operation.operation_id, page)
        .await?;
    Ok(Json(
        json!({ "items": page.items, "nextCursor": page.next_cursor }),
    ))
}

/// `POST /operations/{id}/stop`: its managers stop it.
pub async fn stop(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let operation = visible(&state, &id, &caller).await?;
    if !state
        .engine
        .manages(&operation.selection.definition, &caller.identity())
        .await?
    {
        return Err(Problem::forbidden(format!(
            "only managers of {} may stop this operation",
            operation.selection.definition
        )));
    }
    let stopped = state
        .engine
        .stop_operation(&operation.operation_id, &caller.user)
        .await?;
    Ok(Json(view(&stopped)))
}

async fn may_see(
    state: &ApiState,
    operation: &Operation,
    caller: &Caller,
) -> Result<bool, Problem> {
    if operation.started_by.user == caller.user {
        return Ok(true);
    }
    let rules = state
        .engine
        .definitions()
        .latest_access(&operation.selection.definition)
        .await?;
    Ok(caller.may(&rules, Permission::Read))
}

async fn visible(state: &ApiState, id: &str, caller: &Caller) -> Result<Operation, Problem> {
    let missing = || Problem::not_found(format!("no operation {id}"));
    // Ids are UUIDs: anything else names nothing (and no other item's key).
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| missing())?
        .to_string();
    let operation = state
        .engine
        .operations()
        .operation(&id)
        .await?
        .ok_or_else(missing)?;
    if !may_see(state, &operation, caller).await? {
        return Err(missing());
    }
    Ok(operation)
}

/// `limit` (1 to `max`) and `cursor` from a listing's query.
fn page_of(query: Option<&str>, max: i32) -> Result<PageRequest, Problem> {
    let mut page = PageRequest::default();
    for (key, value) in body::query_pairs(query) {
        match key.as_str() {
            "limit" => page.limit = Some(body::limit(&value, max)?),
            "cursor" => page.cursor = Some(value),
            _ => {}
        }
    }
    Ok(page)
}

/// An operation as the API shows it: without its runner's bookkeeping.
fn view(operation: &Operation) -> Value {
    let mut value = serde_json::to_value(operation).expect("operations serialise");
    if let Some(fields) = value.as_object_mut() {
        fields.remove("cursor");
        fields.remove("lease");
        fields.remove("version");
        fields.remove("pending");
        // Who started it, not their groups or rights.
        if let Some(starter) = fields.get_mut("startedBy").and_then(|s| s.as_object_mut()) {
            starter.retain(|key, _| key == "user");
        }
        if let Some(until) = fields.get_mut("selection").and_then(|s| s.as_object_mut()) {
            until.retain(|_, v| !v.is_null());
        }
    }
    value
}
