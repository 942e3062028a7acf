//! Where the console's chart figures are kept: each definition's counts by
//! minute (added to by the publisher as changes go by) and the queues'
//! depths by minute (sampled by the sweeper).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::figures::{Counts, DepthSample, FigureKey};

/// The longest span figures are kept and read for: a week.
pub const FIGURE_DAYS: i64 = 7;

#[async_trait]
pub trait FigureStore: Send + Sync {
    /// Adds these counts to what each definition's minute holds.
    async fn add_figures(&self, figures: &BTreeMap<FigureKey, Counts>) -> Result<(), StoreError>;

    /// A definition's counts for the minutes in `from..until`, oldest first
    /// (minutes with nothing counted are absent).
    async fn figures(
        &self,
        definition: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Counts)>, StoreError>;

    /// Keeps one minute's queue depths (a later sample of the minute replaces it).
    async fn record_depths(&self, sample: &DepthSample) -> Result<(), StoreError>;

    /// The samples for the minutes in `from..until`, oldest first.
    async fn depths(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<DepthSample>, StoreError>;
}
