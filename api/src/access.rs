//! The access rules applied to a caller: a task is seen by admins, by
//! whoever started it, by its definition's readers (and workers and
//! managers), and, for a manual task, by its assignee or assigned group.
//! A task the caller may not see does not exist for them (404, never 403,
//! so ids cannot be probed); an action they may not take is a 403.

use std::sync::Arc;

use super::ApiState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use tel_core::domain::{AccessRules, Identity, Permission, TaskInstance, TaskStatus, TaskType};
use tel_engine::definitions::LoadedDefinition;

impl Caller {
    pub fn identity(&self) -> Identity {
        Identity {
            user: self.user.clone(),
            groups: self.groups.clone(),
            admin: self.admin,
        }
    }

    /// How a task records this caller as its starter.
    pub fn requester(&self) -> String {
        format!("user:{}", self.user)
    }

    pub fn may(&self, rules: &AccessRules, permission: Permission) -> bool {
        rules.allows(&self.identity(), permission)
    }
}

/// A task the caller may see, with its definition's rules.
pub struct Visible {
    pub task: TaskInstance,
    pub rules: AccessRules,
    /// The task's definition version, when it still exists.
    pub definition: Option<Arc<LoadedDefinition>>,
}

impl Visible {
    pub fn holds(&self, caller: &Caller) -> bool {
        self.task.assignee.as_ref().is_some_and(|a| caller.holds(a))
    }

    /// Claim, unclaim, complete: the assignee (or a member of the assigned
    /// group), or one of the definition's workers.
    pub fn may_work(&self, caller: &Caller) -> bool {
        self.holds(caller) || caller.may(&self.rules, Permission::Work)
    }

    /// Reassign, cancel, retry, replay: the definition's managers (admins included).
    pub fn may_manage(&self, caller: &Caller) -> bool {
        caller.may(&self.rules, Permission::Manage)
    }

    /// What the caller may do to the task now.
    pub fn actions(&self, caller: &Caller) -> Vec<&'static str> {
        actions_for(&self.task, &self.rules, caller)
    }
}

/// What `caller` may do to `task` now, under its definition's `rules`.
pub fn actions_for(task: &TaskInstance, rules: &AccessRules, caller: &Caller) -> Vec<&'static str> {
    let holds = task.assignee.as_ref().is_some_and(|a| caller.holds(a));
    let works = holds || caller.may(rules, Permission::Work);
    let manages = caller.may(rules, Permission::Manage);
    let mut actions = Vec::new();
    match task.status {
        TaskStatus::Assigned if works => actions.extend(["claim", "complete"]),
        TaskStatus::Claimed if works => actions.extend(["unclaim", "complete"]),
        TaskStatus::Claimed if manages => actions.push("unclaim"),
        _ => {}
    }
    if manages {
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
            actions.push("replay");
        }
    }
    actions
}

/// Whether `caller` may see `task`.
pub fn may_read(task: &TaskInstance, rules: &AccessRules, caller: &Caller) -> bool {
    caller.may(rules, Permission::Read)
        || task.requested_by.as_deref() == Some(caller.requester().as_str())
        || task.assignee.as_ref().is_some_and(|a| caller.holds(a))
}

/// The task `id` as `caller` may see it; 404 when it does not exist or they may not.
pub async fn visible_task(state: &ApiState, id: &str, caller: &Caller) -> Result<Visible, Problem> {
    let id = body::task_id(id)?;
    let missing = || Problem::not_found(format!("no task {id}"));
    let task = state.engine.tasks().get(id).await?.ok_or_else(missing)?;
    let definitions = state.engine.definitions();
    let definition = definitions
        .exact(&task.definition_name, task.definition_version)
        .await?;
    // The latest version's rules, whichever version the task runs (access
    // revoked there is revoked here); a name with no version left keeps
    // none: admins only.
    let rules = definitions.latest_access(&task.definition_name).await?;
    if !may_read(&task, &rules, caller) {
        return Err(missing());
    }
    Ok(Visible {
        task,
        rules,
        definition,
    })
}
