//! Settings of manual tasks: who gets the task, when it is due, reminders,
//! escalation, what happens when it is overdue, and form hints.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AssigneeType {
    User,
    Group,
}

/// Who holds a manual task: one user, or a group any member of which may claim it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignee {
    #[serde(rename = "type")]
    pub kind: AssigneeType,
    pub id: String,
}

/// How the assignee is chosen when the task arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "camelCase", deny_unknown_fields)]
pub enum Assignment {
    User {
        id: String,
    },
    Group {
        id: String,
    },
    #[serde(rename_all = "camelCase")]
    RoundRobin {
        users: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    LeastLoaded {
        users: Vec<String>,
    },
    /// A value read from the request by JSON pointer (`/context/managerId`,
    /// `/input/approver`), assigned as `assigneeType`, else the fallback.
    #[serde(rename_all = "camelCase")]
    FromPath {
        path: String,
        #[serde(default = "user_type")]
        assignee_type: AssigneeType,
        fallback: Option<Assignee>,
    },
}

fn user_type() -> AssigneeType {
    AssigneeType::User
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EscalationStep {
    /// Seconds after assignment (or after the previous step) before reassigning.
    pub after_seconds: u64,
    pub to: Assignee,
}

/// What happens when a manual task passes `dueAt` unfinished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
pub enum OnDue {
    #[default]
    Fail,
    Complete {
        output: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManualSettings {
    pub assignment: Assignment,
    #[serde(default)]
    pub due_in_seconds: Option<u64>,
    /// JSON pointer to an RFC 3339 time in the request (`/input/dueDate`).
    #[serde(default)]
    pub due_at_path: Option<String>,
    /// Seconds after assignment at which to remind the assignee.
    #[serde(default)]
    pub reminders: Vec<u64>,
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
    #[serde(default)]
    pub on_due: OnDue,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub ui_components: Value,
}

impl ManualSettings {
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let empty = |s: &str| s.trim().is_empty();
        match &self.assignment {
            Assignment::User { id } | Assignment::Group { id } if empty(id) => {
                problems.push(("manual.assignment.id".into(), "must not be empty".into()))
            }
            Assignment::RoundRobin { users } | Assignment::LeastLoaded { users }
                if users.is_empty() || users.iter().any(|u| empty(u)) =>
            {
                problems.push((
                    "manual.assignment.users".into(),
                    "must list at least one user, none empty".into(),
                ))
            }
            Assignment::FromPath { path, .. } if !path.starts_with('/') => problems.push((
                "manual.assignment.path".into(),
                format!("must be a JSON pointer starting with '/', got \"{path}\""),
            )),
            _ => {}
        }
        if self.due_in_seconds == Some(0) {
            problems.push(("manual.dueInSeconds".into(), "must be positive".into()));
        }
        if let Some(path) = &self.due_at_path
            && !path.starts_with('/')
        {
            problems.push((
                "manual.dueAtPath".into(),
                format!("must be a JSON pointer starting with '/', got \"{path}\""),
            ));
        }
        if self.reminders.contains(&0) {
            problems.push((
                "manual.reminders".into(),
                "every reminder must be after a positive number of seconds".into(),
            ));
        }
        for (i, step) in self.escalation.iter().enumerate() {
            if step.after_seconds == 0 || step.to.id.trim().is_empty() {
                problems.push((
                    format!("manual.escalation[{i}]"),
                    "needs a positive afterSeconds and a non-empty assignee id".into(),
                ));
            }
        }
        problems
    }
}
