//! A manual task's search entries (`search`): where it sits in the inbox
//! views (its shelf) and, under its definition, one key per facet. The same
//! entries file each task under its definition in each sort order (`@due`,
//! `@priority`, `@created`; `@finished` once completed): the inbox's filter
//! by definition.

use std::collections::BTreeMap;

use super::assignee::Assignee;
use super::sortable::{self, NO_TIME};
use super::status::TaskStatus;
use super::task::TaskInstance;

/// Where a task sits in the inbox views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shelf {
    /// Open (ASSIGNED or CLAIMED) with this holder.
    Held(Assignee),
    /// Completed by this person.
    CompletedBy(String),
}

impl Shelf {
    /// A task's place, if it is in any view: an open manual task with its
    /// holder, a completed one with who completed it.
    pub fn of(task: &TaskInstance) -> Option<Self> {
        match (task.status, &task.assignee) {
            (TaskStatus::Assigned | TaskStatus::Claimed, Some(holder)) => {
                Some(Self::Held(holder.clone()))
            }
            (TaskStatus::Completed, Some(_)) => task
                .completed_by
                .clone()
                .filter(|_| task.finished_at.is_some())
                .map(Self::CompletedBy),
            _ => None,
        }
    }
}

/// Facets that file a task under its definition in a view's order.
pub const BY_DUE: &str = "@due";
pub const BY_PRIORITY: &str = "@priority";
pub const BY_CREATED: &str = "@created";
pub const BY_FINISHED: &str = "@finished";

/// A task's search entries: under its shelf and definition, one key per
/// facet (each sort order, each searchable field it has a value for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEntries {
    pub shelf: Shelf,
    pub definition: String,
    pub facets: BTreeMap<String, String>,
}

impl SearchEntries {
    pub fn of(task: &TaskInstance) -> Option<Self> {
        let shelf = Shelf::of(task)?;
        let mut facets = task.search_keys.clone();
        match &shelf {
            Shelf::Held(_) => {
                let due = task.due_at.map(sortable::time);
                facets.insert(BY_DUE.into(), due.unwrap_or_else(|| NO_TIME.into()));
                let rank = 9 - task.priority.clamp(0, 9);
                let created = sortable::time(task.created_at);
                facets.insert(BY_PRIORITY.into(), format!("{rank}#{created}"));
                facets.insert(BY_CREATED.into(), created);
            }
            Shelf::CompletedBy(_) => {
                let finished = task.finished_at.map(sortable::time);
                facets.insert(BY_FINISHED.into(), finished.unwrap_or_default());
            }
        }
        Some(Self {
            shelf,
            definition: task.definition_name.clone(),
            facets,
        })
    }
}
