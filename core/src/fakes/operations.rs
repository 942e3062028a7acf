//! The operations index and records, in memory: the selection's order is
//! the DynamoDB index's (status, error code, time, id).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::{InMemoryTaskStore, page_of};
use crate::domain::TaskInstanceId;
use crate::domain::operation::{IndexedTask, Operation, Selection, TaskOutcome};
use crate::ports::{
    MATCH_COUNT_CAP, MatchCount, OperationStore, Page, PageRequest, PageSize, Saved, Selected,
    SelectedPage, StoreError,
};

const PAGE: PageSize = PageSize {
    default: 50,
    max: 500,
};

#[derive(Default)]
pub(super) struct Operations {
    records: HashMap<String, Operation>,
    outcomes: HashMap<String, BTreeMap<TaskInstanceId, TaskOutcome>>,
}

/// The index's sort order for one entry.
fn position(entry: &IndexedTask, id: TaskInstanceId) -> String {
    format!(
        "{}#{}#{:015}#{id}",
        entry.status,
        entry.error_code.as_deref().unwrap_or(""),
        entry.at.timestamp_millis()
    )
}

impl InMemoryTaskStore {
    fn matching(&self, selection: &Selection) -> Vec<(String, TaskInstanceId)> {
        let t = self.tables.lock().expect("lock");
        let mut found: Vec<(String, TaskInstanceId)> = t
            .tasks
            .values()
            .filter(|task| task.definition_name == selection.definition)
            .filter_map(|task| IndexedTask::of(task).map(|e| (e, task.task_instance_id)))
            .filter(|(entry, _)| selection.matches_entry(entry))
            .map(|(entry, id)| (position(&entry, id), id))
            .collect();
        found.sort();
        found
    }
}

#[async_trait]
impl OperationStore for InMemoryTaskStore {
    async fn create_operation(&self, operation: &Operation) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        t.operations
            .records
            .insert(operation.operation_id.clone(), operation.clone());
        Ok(())
    }

    async fn operation(&self, id: &str) -> Result<Option<Operation>, StoreError> {
        Ok(self
            .tables
            .lock()
            .expect("lock")
            .operations
            .records
            .get(id)
            .cloned())
    }

    async fn operations(&self, page: PageRequest) -> Result<Page<Operation>, StoreError> {
        let mut all: Vec<Operation> = self
            .tables
            .lock()
            .expect("lock")
            .operations
            .records
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| b.operation_id.cmp(&a.operation_id));
        page_of(all, &page, PAGE)
    }

    async fn running_operations(&self) -> Result<Vec<Operation>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.operations
            .records
            .values()
            .filter(|o| o.is_running())
            .cloned()
            .collect())
    }

    async fn save_operation(
        &self,
        operation: &Operation,
        expected_version: u64,
    ) -> Result<Saved, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        match t.operations.records.get_mut(&operation.operation_id) {
            Some(stored) if stored.version == expected_version => {
                *stored = operation.clone();
                Ok(Saved::Saved)
            }
            _ => Ok(Saved::Superseded),
        }
    }

    async fn select(
        &self,
        selection: &Selection,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SelectedPage, StoreError> {
        let after: Vec<(String, TaskInstanceId)> = self
            .matching(selection)
            .into_iter()
            .filter(|(key, _)| cursor.is_none_or(|c| key.as_str() > c))
            .collect();
        let page: Vec<_> = after.iter().take(limit).cloned().collect();
        Ok(SelectedPage {
            next: (after.len() > limit)
                .then(|| page.last().map(|(key, _)| key.clone()))
                .flatten(),
            found: page
                .into_iter()
                .map(|(after, id)| Selected { id, after })
                .collect(),
        })
    }

    async fn count_matching(&self, selection: &Selection) -> Result<MatchCount, StoreError> {
        let count = self.matching(selection).len() as u64;
        Ok(MatchCount {
            count: count.min(MATCH_COUNT_CAP),
            capped: count > MATCH_COUNT_CAP,
        })
    }

    async fn record_outcomes(
        &self,
        operation_id: &str,
        outcomes: &[TaskOutcome],
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let kept = t
            .operations
            .outcomes
            .entry(operation_id.to_owned())
            .or_default();
        for outcome in outcomes {
            kept.insert(outcome.task_instance_id, outcome.clone());
        }
        Ok(())
    }

    async fn outcomes(
        &self,
        operation_id: &str,
        page: PageRequest,
    ) -> Result<Page<TaskOutcome>, StoreError> {
        let all: Vec<TaskOutcome> = self
            .tables
            .lock()
            .expect("lock")
            .operations
            .outcomes
            .get(operation_id)
            .map(|o| o.values().cloned().collect())
            .unwrap_or_default();
        page_of(all, &page, PAGE)
    }
}
