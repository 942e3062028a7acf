//! Chart figures in memory: counts by definition and minute, depth samples by minute.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::InMemoryTaskStore;
use crate::domain::figures::{Counts, DepthSample, FigureKey};
use crate::ports::{FigureStore, StoreError};

#[derive(Default)]
pub(super) struct Figures {
    counts: BTreeMap<FigureKey, Counts>,
    depths: BTreeMap<DateTime<Utc>, DepthSample>,
}

#[async_trait]
impl FigureStore for InMemoryTaskStore {
    async fn add_figures(&self, figures: &BTreeMap<FigureKey, Counts>) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        for (key, counts) in figures {
            t.figures.counts.entry(key.clone()).or_default().add(counts);
        }
        Ok(())
    }

    async fn figures(
        &self,
        definition: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Counts)>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.figures
            .counts
            .iter()
            .filter(|(key, _)| key.definition == definition)
            .filter(|(key, _)| key.minute >= from && key.minute < until)
            .map(|(key, counts)| (key.minute, counts.clone()))
            .collect())
    }

    async fn record_depths(&self, sample: &DepthSample) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        t.figures.depths.insert(sample.minute, sample.clone());
        Ok(())
    }

    async fn depths(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<DepthSample>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.figures
            .depths
            .range(from..until)
            .map(|(_, sample)| sample.clone())
            .collect())
    }
}
