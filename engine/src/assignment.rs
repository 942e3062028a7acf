//! Choosing who gets a manual task, by the definition's strategy.

use serde_json::{Value, json};

use tel_core::domain::manual::Assignment;
use tel_core::domain::task_error::ASSIGNMENT_ERROR;
use tel_core::domain::{Assignee, AssigneeType, TaskError, TaskInstance};
use tel_core::ports::{AssignmentState, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// The task cannot be assigned as defined: it fails.
    #[error("{0}")]
    Unassignable(TaskError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a `fromPath` pointer reads: `/input/...` or `/context/...`.
pub fn request_document(task: &TaskInstance) -> Value {
    json!({ "input": task.input, "context": task.context })
}

pub async fn choose(
    assignment: &Assignment,
    task: &TaskInstance,
    state: &dyn AssignmentState,
) -> Result<Assignee, AssignError> {
    let user = |id: &str| Assignee {
        kind: AssigneeType::User,
        id: id.to_owned(),
    };
    match assignment {
        Assignment::User { id } => Ok(user(id)),
        Assignment::Group { id } => Ok(Assignee {
            kind: AssigneeType::Group,
            id: id.clone(),
        }),
        Assignment::RoundRobin { users } => {
            let turn = next_turn(state, "round-robin", task).await?;
            Ok(user(&users[((turn - 1) % users.len() as u64) as usize]))
        }
        Assignment::LeastLoaded { users } => {
            let mut loads = Vec::with_capacity(users.len());
            for id in users {
                loads.push(state.open_tasks(id).await?);
            }
            let least = *loads
                .iter()
                .min()
                .expect("definitions list at least one user");
            let tied: Vec<&String> = users
                .iter()
                .zip(&loads)
                .filter(|(_, l)| **l == least)
                .map(|(u, _)| u)
                .collect();
            // Ties go round-robin, so a burst of assignments spreads over the equally loaded.
            let turn = next_turn(state, "least-loaded", task).await?;
            Ok(user(tied[((turn - 1) % tied.len() as u64) as usize]))
        }
        Assignment::FromPath {
            path,
            assignee_type,
            fallback,
        } => {
            let found = request_document(task)
                .pointer(path)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| Assignee {
                    kind: *assignee_type,
                    id: id.to_owned(),
                });
            found.or_else(|| fallback.clone()).ok_or_else(|| {
                AssignError::Unassignable(TaskError::new(
                    ASSIGNMENT_ERROR,
                    format!("{path} names no assignee in the request, and the definition has no fallback"),
                ))
            })
        }
    }
}

/// The task's turn on its definition's `strategy` counter.
async fn next_turn(
    state: &dyn AssignmentState,
    strategy: &str,
    task: &TaskInstance,
) -> Result<u64, StoreError> {
    let counter = format!("{strategy}#{}", task.definition_name);
    state
        .next_turn(&counter, &task.task_instance_id.to_string())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tel_core::domain::{Creation, NewTask, TaskInstanceId};
    use tel_core::fakes::InMemoryTaskStore;

    fn task(input: Value, context: Value) -> TaskInstance {
        let now = chrono::Utc::now();
        let new = NewTask {
            task_instance_id: TaskInstanceId::new(),
            definition_name: "approve".into(),
            definition_version: 1,
            task_type: None,
            workflow_instance_id: "wf".into(),
            step_id: "s".into(),
            input,
            context,
            priority: 0,
            trace_id: None,
            requested_by: None,
            callback: None,
        };
        Creation::new(new, now, now).task
    }

    fn strategy(value: Value) -> Assignment {
        serde_json::from_value(value).unwrap()
    }

    #[tokio::test]
    async fn round_robin_takes_turns() {
        let state = InMemoryTaskStore::default();
        let rr = strategy(json!({ "strategy": "roundRobin", "users": ["a", "b", "c"] }));
        let mut picked = Vec::new();
        for _ in 0..6 {
            let t = task(json!({}), Value::Null);
            picked.push(choose(&rr, &t, &state).await.unwrap().id);
        }
        assert_eq!(picked, vec!["a", "b", "c", "a", "b", "c"]);
    }

    /// A task chosen for again (its assignment retried) keeps its user and
    /// does not push the next task past a user.
    #[tokio::test]
    async fn a_task_chosen_for_again_keeps_its_turn() {
        let state = InMemoryTaskStore::default();
        let rr = strategy(json!({ "strategy": "roundRobin", "users": ["a", "b", "c"] }));
        let (first, second) = (task(json!({}), Value::Null), task(json!({}), Value::Null));
        let mut picked = Vec::new();
        for t in [&first, &first, &second, &second] {
            picked.push(choose(&rr, t, &state).await.unwrap().id);
        }
        assert_eq!(picked, vec!["a", "a", "b", "b"]);
    }

    #[tokio::test]
    async fn from_path_reads_the_request_and_falls_back() {
        let state = InMemoryTaskStore::default();
        let by_manager = strategy(
            json!({ "strategy": "fromPath", "path": "/context/requester/managerId", "fallback": { "type": "GROUP", "id": "managers" } }),
        );
        let t = task(json!({}), json!({ "requester": { "managerId": "u-42" } }));
        assert_eq!(
            choose(&by_manager, &t, &state).await.unwrap(),
            Assignee {
                kind: AssigneeType::User,
                id: "u-42".into()
            }
        );
        let t = task(json!({}), json!({}));
        assert_eq!(
            choose(&by_manager, &t, &state).await.unwrap().id,
            "managers"
        );
        let strict = strategy(json!({ "strategy": "fromPath", "path": "/input/approver" }));
        let err = choose(&strict, &t, &state).await.unwrap_err();
        assert!(matches!(err, AssignError::Unassignable(e) if e.code == ASSIGNMENT_ERROR));
    }
}
