//! The views of a person's inbox, as people expect them: what is assigned
//! to them, what their groups hold unclaimed, what they completed; sorted
//! by due date, priority or creation, and narrowed to a due window. Each is
//! served by an index, so a page reads what it shows (plus a constant).

use chrono::{DateTime, Utc};

use super::PageRequest;
use crate::domain::{
    Assignee, AssigneeType, FieldSearch, TaskInstance, TaskStatus, search_entries,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxView {
    /// Held by the person themselves: ASSIGNED to them, or CLAIMED by them.
    Mine,
    /// Held by one of their groups and claimed by nobody.
    Unclaimed,
    /// Completed by them, latest first.
    Completed,
}

impl InboxView {
    pub const ALL: [InboxView; 3] = [Self::Mine, Self::Unclaimed, Self::Completed];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mine => "mine",
            Self::Unclaimed => "unclaimed",
            Self::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxSort {
    /// Soonest due first; tasks without a due time last.
    #[default]
    Due,
    /// Highest priority first, then oldest.
    Priority,
    /// Oldest first.
    Created,
}

impl InboxSort {
    pub const ALL: [InboxSort; 3] = [Self::Due, Self::Priority, Self::Created];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Priority => "priority",
            Self::Created => "created",
        }
    }
}

/// Tasks due in `[from, to)` (`from` unset: any time before `to`). A task
/// with no due time is in no window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueWindow {
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
}

impl DueWindow {
    pub fn contains(&self, due: Option<DateTime<Utc>>) -> bool {
        due.is_some_and(|due| self.from.is_none_or(|from| due >= from) && due < self.to)
    }
}

/// One page of one view for one person.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewQuery {
    pub user: String,
    pub groups: Vec<String>,
    pub view: InboxView,
    pub sort: InboxSort,
    /// Only tasks due in this window (the view is then sorted by due time).
    pub due: Option<DueWindow>,
    /// Only tasks of this definition (any version).
    pub definition: Option<String>,
    /// Only tasks whose declared field matches (with `definition`, whose
    /// declaration it is); the view is then in the field's order.
    pub search: Option<FieldSearch>,
    pub page: PageRequest,
}

impl ViewQuery {
    /// The holders whose tasks the view reads, with the statuses it takes
    /// from each (the completed view reads who completed, not who holds).
    pub fn holders(&self) -> Vec<(Assignee, Vec<TaskStatus>)> {
        let user = Assignee {
            kind: AssigneeType::User,
            id: self.user.clone(),
        };
        match self.view {
            InboxView::Mine => vec![(user, vec![TaskStatus::Assigned, TaskStatus::Claimed])],
            InboxView::Unclaimed => self
                .groups
                .iter()
                .map(|g| {
                    let group = Assignee {
                        kind: AssigneeType::Group,
                        id: g.clone(),
                    };
                    (group, vec![TaskStatus::Assigned])
                })
                .collect(),
            InboxView::Completed => vec![(user, vec![TaskStatus::Completed])],
        }
    }

    /// Whether `task` belongs in the view (what an index entry says).
    pub fn admits(&self, task: &TaskInstance) -> bool {
        let in_view = match self.view {
            InboxView::Completed => {
                task.status == TaskStatus::Completed
                    && task.completed_by.as_deref() == Some(self.user.as_str())
                    && task.assignee.is_some()
            }
            _ => self.holders().iter().any(|(holder, statuses)| {
                task.assignee.as_ref() == Some(holder) && statuses.contains(&task.status)
            }),
        };
        in_view
            && self.due.is_none_or(|w| w.contains(task.due_at))
            && self
                .definition
                .as_ref()
                .is_none_or(|d| *d == task.definition_name)
            && self.search.as_ref().is_none_or(|s| {
                task.search_keys
                    .get(&s.field)
                    .is_some_and(|key| s.matches(key, task.task_instance_id))
            })
    }

    /// The search-entry facet a filtered view reads: the searched field, or
    /// the view's order under its definition.
    pub fn facet(&self) -> &str {
        match (
            &self.search,
            self.view,
            self.due.map(|_| InboxSort::Due).unwrap_or(self.sort),
        ) {
            (Some(search), _, _) => &search.field,
            (None, InboxView::Completed, _) => search_entries::BY_FINISHED,
            (None, _, InboxSort::Due) => search_entries::BY_DUE,
            (None, _, InboxSort::Priority) => search_entries::BY_PRIORITY,
            (None, _, InboxSort::Created) => search_entries::BY_CREATED,
        }
    }
}

/// How many tasks a view holds, counted up to a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewCount {
    pub count: u64,
    /// More than `count` (the cap was reached).
    pub more: bool,
}

/// Counting stops here: a tab shows "1000+".
pub const VIEW_COUNT_CAP: u64 = 1000;

/// A page of a view, in the view's order.
pub type ViewPage = super::Page<TaskInstance>;
