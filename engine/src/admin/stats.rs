//! The local view of a running stack: queue depths, tasks by status, recent
//! throughput and execution times by task type.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use tel_core::domain::{HistoryEntry, TaskInstance, TaskInstanceId, TaskStatus};
use tel_core::ports::{PageRequest, QueueError, QueueSender, StoreError, TaskFilter, TaskStore};

/// The tasks the figures are made from, and their attempts.
#[derive(Debug, Default)]
pub struct TableContents {
    pub tasks: Vec<TaskInstance>,
    /// History entries that end an attempt (they carry a duration), by task.
    pub attempts: Vec<(TaskInstanceId, HistoryEntry)>,
    /// Whether tasks were left unread (more than asked for).
    pub partial: bool,
}

impl TableContents {
    fn add(&mut self, task: TaskInstance) {
        let id = task.task_instance_id;
        self.attempts.extend(
            task.history
                .iter()
                .filter(|h| h.duration_ms.is_some())
                .map(|h| (id, h.clone())),
        );
        self.tasks.push(task);
    }
}

/// Every task (or the first `max`), a page of the store's listing at a time.
pub async fn read_tasks(
    store: &dyn TaskStore,
    max: Option<usize>,
) -> Result<TableContents, StoreError> {
    let mut contents = TableContents::default();
    let mut cursor = None;
    loop {
        let page = PageRequest {
            limit: Some(200),
            cursor,
        };
        let page = store.list(&TaskFilter::default(), page).await?;
        page.items.into_iter().for_each(|t| contents.add(t));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(contents);
        }
        if max.is_some_and(|max| contents.tasks.len() >= max) {
            contents.partial = true;
            return Ok(contents);
        }
    }
}

/// Queues by name (`execute`, `execute-dead-letter`, …) from `TEL_<NAME>_QUEUE_URL` variables.
pub fn named_queues(vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter(|(_, url)| !url.is_empty())
        .filter_map(|(key, url)| {
            let name = key.strip_prefix("TEL_")?.strip_suffix("_QUEUE_URL")?;
            Some((name.to_lowercase().replace('_', "-"), url))
        })
        .collect()
}

impl Stats {
    /// Adds each named queue's depth: (waiting, in flight).
    pub async fn add_queue_depths(
        &mut self,
        sender: &dyn QueueSender,
        queues: &BTreeMap<String, String>,
    ) -> Result<(), QueueError> {
        for (name, url) in queues {
            let depth = sender.depth(url).await?;
            self.queues
                .insert(name.clone(), (depth.waiting, depth.in_flight));
        }
        Ok(())
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Queue name → (waiting, in flight).
    pub queues: BTreeMap<String, (u64, u64)>,
    pub tasks_by_status: BTreeMap<String, usize>,
    /// Tasks that reached a terminal status in the last minute and the last five.
    pub finished_last_minute: usize,
    pub finished_last_5_minutes: usize,
    /// Task type → attempt durations: (count, p50 ms, p95 ms), over the window.
    pub execution_ms: BTreeMap<String, (usize, i64, i64)>,
}

fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Figures from the table's contents, as of `now`, with execution times over `window`.
pub fn summarize(contents: &TableContents, now: DateTime<Utc>, window: Duration) -> Stats {
    let mut stats = Stats::default();
    let mut types = HashMap::new();
    for task in &contents.tasks {
        *stats
            .tasks_by_status
            .entry(task.status.to_string())
            .or_default() += 1;
        types.insert(
            task.task_instance_id,
            task.task_type.map_or("unknown", |t| t.as_str()),
        );
        if let Some(finished) = task.finished_at.filter(|_| task.status.is_terminal()) {
            if finished > now - Duration::minutes(1) {
                stats.finished_last_minute += 1;
            }
            if finished > now - Duration::minutes(5) {
                stats.finished_last_5_minutes += 1;
            }
        }
    }
    let mut durations: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (id, entry) in &contents.attempts {
        if entry.at > now - window
            && let Some(ms) = entry.duration_ms
        {
            durations
                .entry(types.get(id).copied().unwrap_or("unknown").to_owned())
                .or_default()
                .push(ms);
        }
    }
    for (task_type, mut ms) in durations {
        ms.sort_unstable();
        stats.execution_ms.insert(
            task_type,
            (ms.len(), percentile(&ms, 0.5), percentile(&ms, 0.95)),
        );
    }
    for status in TaskStatus::ALL {
        stats.tasks_by_status.entry(status.to_string()).or_default();
    }
    stats
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "queues (waiting / in flight):")?;
        for (name, (waiting, in_flight)) in &self.queues {
            writeln!(f, "  {name:<40} {waiting:>6} / {in_flight}")?;
        }
        writeln!(f, "tasks by status:")?;
        for (status, count) in self.tasks_by_status.iter().filter(|(_, c)| **c > 0) {
            writeln!(f, "  {status:<15} {count:>7}")?;
        }
        writeln!(
            f,
            "finished: {} in the last minute, {} in the last 5 minutes",
            self.finished_last_minute, self.finished_last_5_minutes
        )?;
        writeln!(f, "attempt time by task type (count, p50, p95):")?;
        for (task_type, (count, p50, p95)) in &self.execution_ms {
            writeln!(
                f,
                "  {task_type:<12} {count:>6}  p50 {p50} ms  p95 {p95} ms"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let samples: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 0.5), 51);
        assert_eq!(percentile(&samples, 0.95), 95);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
