//! Settings of manual tasks: who gets the task, when it is due, reminders,
//! escalation, what happens when it is overdue, and form hints.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::assignee::{Assignee, AssigneeType};
use super::deadline::DeadlineKind;
use super::notify::NotifySettings;
use super::search::{self, Searchable};

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_in_seconds: Option<u64>,
    /// JSON pointer to an RFC 3339 time in the request (`/input/dueDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Who hears of the task's assignment events; the defaults without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifySettings>,
    /// The fields the inbox searches by, and their kinds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub searchable: Searchable,
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
        if let Some(notify) = &self.notify {
            problems.extend(notify.problems());
        }
        problems.extend(search::problems(&self.searchable));
        problems
    }

    /// Whether this definition's tasks may come to `who`: its assignment or
    /// an escalation step names them or one of their groups, or reads the
    /// assignee from the request (anyone may be named). What the inbox's
    /// filter offers them.
    pub fn may_reach(&self, who: &super::access::Identity) -> bool {
        let names = |a: &Assignee| match a.kind {
            AssigneeType::User => a.id == who.user,
            AssigneeType::Group => who.groups.contains(&a.id),
        };
        let by_assignment = match &self.assignment {
            Assignment::User { id } => *id == who.user,
            Assignment::Group { id } => who.groups.contains(id),
            Assignment::RoundRobin { users } | Assignment::LeastLoaded { users } => {
                users.contains(&who.user)
            }
            Assignment::FromPath { .. } => true,
        };
        by_assignment || self.escalation.iter().any(|step| names(&step.to))
    }

    /// The keys a task is found by in the inbox's search.
    pub fn search_keys(&self, input: &Value, context: &Value) -> BTreeMap<String, String> {
        search::keys_of(&self.searchable, input, context)
    }

    /// The notification settings in force: the definition's, or the defaults.
    pub fn notify_settings(&self) -> NotifySettings {
        self.notify.clone().unwrap_or_else(NotifySettings::defaults)
    }
}

/// Where a manual task is in its reminder and escalation schedules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualProgress {
    /// First assignment: reminders count from here.
    pub assigned_at: DateTime<Utc>,
    /// Latest assignment (first or by escalation): the next escalation step counts from here.
    pub last_assigned_at: DateTime<Utc>,
    pub reminders_sent: u32,
    /// Escalation steps taken so far.
    pub escalation_level: u32,
    /// Who held the task before it was claimed; unclaiming gives it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Assignee>,
}

impl ManualProgress {
    pub fn start(at: DateTime<Utc>) -> Self {
        Self {
            assigned_at: at,
            last_assigned_at: at,
            reminders_sent: 0,
            escalation_level: 0,
            pool: None,
        }
    }
}

fn after(at: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    at + Duration::seconds(
        i64::try_from(seconds)
            .unwrap_or(i64::MAX / 1000)
            .min(100 * 365 * 86_400),
    )
}

impl ManualSettings {
    /// The deadlines a manual task waits on: its due time, its next reminder
    /// and its next escalation step, each only while there is one.
    pub fn deadlines(
        &self,
        progress: &ManualProgress,
        due_at: Option<DateTime<Utc>>,
    ) -> BTreeMap<DeadlineKind, DateTime<Utc>> {
        let mut deadlines = BTreeMap::new();
        if let Some(due) = due_at {
            deadlines.insert(DeadlineKind::Due, due);
        }
        let mut reminders = self.reminders.clone();
        reminders.sort_unstable();
        if let Some(seconds) = reminders.get(progress.reminders_sent as usize) {
            deadlines.insert(
                DeadlineKind::Reminder,
                after(progress.assigned_at, *seconds),
            );
        }
        if let Some(step) = self.escalation.get(progress.escalation_level as usize) {
            deadlines.insert(
                DeadlineKind::Escalation,
                after(progress.last_assigned_at, step.after_seconds),
            );
        }
        deadlines
    }

    /// The due time: the RFC 3339 time at `dueAtPath` in `{input, context}`
    /// when it holds one, else `dueInSeconds` after `now`.
    pub fn due_at(&self, document: &Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.due_at_path
            .as_deref()
            .and_then(|path| document.pointer(path))
            .and_then(Value::as_str)
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| self.due_in_seconds.map(|s| after(now, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> ManualSettings {
        serde_json::from_value(json!({
            "assignment": { "strategy": "group", "id": "finance" },
            "dueInSeconds": 3600,
            "dueAtPath": "/input/dueDate",
            "reminders": [1800, 600],
            "escalation": [
                { "afterSeconds": 900, "to": { "type": "USER", "id": "manager" } },
                { "afterSeconds": 300, "to": { "type": "GROUP", "id": "directors" } }
            ]
        }))
        .unwrap()
    }

    #[test]
    fn deadlines_follow_progress_through_both_schedules() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = settings();
        let mut p = ManualProgress::start(t0);
        let d = s.deadlines(&p, Some(t0 + Duration::hours(1)));
        assert_eq!(
            d[&DeadlineKind::Reminder],
            t0 + Duration::seconds(600),
            "reminders in time order"
        );
        assert_eq!(d[&DeadlineKind::Escalation], t0 + Duration::seconds(900));
        assert_eq!(d[&DeadlineKind::Due], t0 + Duration::hours(1));
        p.reminders_sent = 1;
        p.escalation_level = 1;
        p.last_assigned_at = t0 + Duration::seconds(900);
        let d = s.deadlines(&p, None);
        assert_eq!(d[&DeadlineKind::Reminder], t0 + Duration::seconds(1800));
        assert_eq!(
            d[&DeadlineKind::Escalation],
            t0 + Duration::seconds(1200),
            "the next step counts from the last assignment"
        );
        p.reminders_sent = 2;
        p.escalation_level = 2;
        assert!(s.deadlines(&p, None).is_empty());
    }

    #[test]
    fn a_definition_reaches_whom_its_assignment_or_escalation_names() {
        let who = |user: &str, groups: &[&str]| super::super::access::Identity {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            admin: false,
        };
        let s = settings();
        assert!(s.may_reach(&who("zoe", &["finance"])), "the group assigned");
        assert!(s.may_reach(&who("manager", &[])), "an escalation step");
        assert!(
            s.may_reach(&who("dee", &["directors"])),
            "an escalation group"
        );
        assert!(!s.may_reach(&who("zoe", &["sales"])));
    }

    #[test]
    fn the_due_time_comes_from_the_request_or_the_default() {
        let now = Utc::now();
        let s = settings();
        let from_input = s
            .due_at(
                &json!({ "input": { "dueDate": "2030-05-01T12:00:00Z" } }),
                now,
            )
            .unwrap();
        assert_eq!(from_input.to_rfc3339(), "2030-05-01T12:00:00+00:00");
        assert_eq!(
            s.due_at(&json!({ "input": { "dueDate": "soon" } }), now),
            Some(now + Duration::seconds(3600))
        );
    }
}
