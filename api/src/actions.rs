//! Working a manual task: claim, unclaim, complete; and the managers'
//! actions: reassign, cancel, retry. A task the caller may not see is a 404;
//! then authorization (403), then the task's status (409); a lost race is a
//! 409 too.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::access::{Visible, actions_for, visible_task};
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use tel_core::domain::schema::SchemaViolation;
use tel_core::domain::{Action, Assignee, TaskInstance, TaskStatus, TaskType};
use tel_engine::ReplayError;

fn respond(task: &TaskInstance, visible: &Visible, caller: &Caller) -> Json<Value> {
    Json(json!({ "task": task, "actions": actions_for(task, &visible.rules, caller) }))
}

fn require_status(task: &TaskInstance, allowed: &[TaskStatus], doing: &str) -> Result<(), Problem> {
    if allowed.contains(&task.status) {
        Ok(())
    } else {
        Err(Problem::conflict(format!(
            "cannot {doing} a task in status {}",
            task.status
        )))
    }
}

fn require_manager(visible: &Visible, caller: &Caller, doing: &str) -> Result<(), Problem> {
    if visible.may_manage(caller) {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "only managers of {} (and admins) may {doing} its tasks",
            visible.task.definition_name
        )))
    }
}

fn require_worker(visible: &Visible, caller: &Caller, doing: &str) -> Result<(), Problem> {
    if visible.may_work(caller) {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "only the assignee, a member of the assigned group, or a worker of {} may {doing} this task",
            visible.task.definition_name
        )))
    }
}

pub async fn claim(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let visible = visible_task(&state, &id, &caller).await?;
    require_worker(&visible, &caller, "claim")?;
    let task = &visible.task;
    require_status(task, &[TaskStatus::Assigned], "claim")?;
    let claimed = state
        .engine
        .apply(
            task,
            Action::Claim {
                by: caller.user.clone(),
            },
        )
        .await?;
    Ok(respond(&claimed, &visible, &caller))
}

pub async fn unclaim(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let visible = visible_task(&state, &id, &caller).await?;
    if !(visible.may_work(&caller) || visible.may_manage(&caller)) {
        return Err(Problem::forbidden(
            "only the person who claimed this task, a worker or a manager of its definition may unclaim it",
        ));
    }
    let task = &visible.task;
    require_status(task, &[TaskStatus::Claimed], "unclaim")?;
    let released = state
        .engine
        .apply(
            task,
            Action::Unclaim {
                by: caller.user.clone(),
            },
        )
        .await?;
    Ok(respond(&released, &visible, &caller))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Completion {
    output: Value,
}

pub async fn complete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, Problem> {
    let Completion { output } = body::typed(&bytes)?;
    let visible = visible_task(&state, &id, &caller).await?;
    require_worker(&visible, &caller, "complete")?;
    let task = &visible.task;
    require_status(
        task,
        &[TaskStatus::Assigned, TaskStatus::Claimed],
        "complete",
    )?;
    let loaded = visible.definition.clone().ok_or_else(|| {
        Problem::not_found(format!(
            "definition {} no longer exists",
            task.definition_ref()
        ))
    })?;
    let violations = loaded.output()?.violations(&output);
    if !violations.is_empty() {
        let errors = field_errors(&violations);
        return Err(Problem::invalid(
            "OUTPUT_VALIDATION_ERROR",
            format!(
                "the output does not match the form: {} error(s)",
                violations.len()
            ),
        )
        .with_errors(errors));
    }
    let done = state
        .engine
        .apply(
            task,
            Action::Complete {
                output: Some(output),
                by: Some(caller.user.clone()),
            },
        )
        .await?;
    Ok(respond(&done, &visible, &caller))
}

pub async fn reassign(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, Problem> {
    let assignee: Assignee = body::typed(&bytes)?;
    if assignee.id.trim().is_empty() {
        return Err(Problem::bad_request("the assignee id must not be empty"));
    }
    let visible = visible_task(&state, &id, &caller).await?;
    require_manager(&visible, &caller, "reassign")?;
    let task = &visible.task;
    if task.task_type != Some(TaskType::Manual) {
        return Err(Problem::conflict("only manual tasks can be reassigned"));
    }
    require_status(
        task,
        &[
            TaskStatus::Created,
            TaskStatus::Assigned,
            TaskStatus::Claimed,
        ],
        "reassign",
    )?;
    let schedule = visible
        .definition
        .as_ref()
        .and_then(|l| l.definition.manual.clone());
    let action = Action::Assign {
        assignee,
        due_at: None,
        schedule,
        escalated: false,
        by: Some(caller.user.clone()),
    };
    let moved = state.engine.apply(task, action).await?;
    Ok(respond(&moved, &visible, &caller))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Cancellation {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, Problem> {
    let Cancellation { reason } = body::typed(&bytes)?;
    let visible = visible_task(&state, &id, &caller).await?;
    require_manager(&visible, &caller, "cancel")?;
    let task = &visible.task;
    if task.status.is_terminal() {
        return Err(Problem::conflict(format!(
            "the task is already {}",
            task.status
        )));
    }
    let reason = reason.unwrap_or_else(|| format!("cancelled by {}", caller.user));
    let cancelled = state
        .engine
        .apply(
            task,
            Action::Cancel {
                reason,
                by: Some(caller.user.clone()),
            },
        )
        .await?;
    Ok(respond(&cancelled, &visible, &caller))
}

pub async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let visible = visible_task(&state, &id, &caller).await?;
    require_manager(&visible, &caller, "retry")?;
    let task = &visible.task;
    require_status(task, &[TaskStatus::Failed, TaskStatus::TimedOut], "retry")?;
    let s = &state.engine;
    let rerun = s
        .apply(
            task,
            Action::Rerun {
                by: Some(caller.user.clone()),
                redeliver_at: s.redeliver_at(),
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, respond(&rerun, &visible, &caller)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    input: Value,
}

/// Runs a FAILED or TIMED_OUT task again with corrected input (its
/// definition's managers): checked against the input schema first, the
/// input it had kept readable (`previousInputs` on the task's view).
pub async fn replay(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, Problem> {
    let Replay { input } = body::typed(&bytes)?;
    let visible = visible_task(&state, &id, &caller).await?;
    require_manager(&visible, &caller, "replay")?;
    let task = &visible.task;
    require_status(task, &[TaskStatus::Failed, TaskStatus::TimedOut], "replay")?;
    let replayed = match state
        .engine
        .replay(task, input, Some(caller.user.clone()))
        .await
    {
        Ok(replayed) => replayed,
        Err(ReplayError::Invalid {
            definition,
            violations,
        }) => {
            let errors = field_errors(&violations);
            return Err(Problem::invalid(
                "VALIDATION_ERROR",
                format!(
                    "the input does not match the inputSchema of {definition}: {} error(s)",
                    violations.len()
                ),
            )
            .with_errors(errors));
        }
        Err(ReplayError::UnknownDefinition(definition)) => {
            return Err(Problem::conflict(format!(
                "definition {definition} no longer exists; the task cannot be replayed"
            )));
        }
        Err(ReplayError::Apply(e)) => return Err(e.into()),
    };
    Ok((StatusCode::ACCEPTED, respond(&replayed, &visible, &caller)))
}

/// Schema violations as the API's field errors: each with a JSON `pointer`
/// into the submitted document.
fn field_errors(violations: &[SchemaViolation]) -> Value {
    violations
        .iter()
        .map(|v| json!({ "pointer": v.instance_path(), "field": v.field(), "schemaPath": v.schema_path(), "message": v.message() }))
        .collect()
}
