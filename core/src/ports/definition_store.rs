use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{DefinitionName, DefinitionRef, TaskDefinition};

#[async_trait]
pub trait DefinitionStore: Send + Sync {
    /// Stores a new version. Version 0 means "the next one"; an explicit
    /// version must be new, or identical to what is stored (then a no-op).
    async fn register(&self, definition: TaskDefinition) -> Result<TaskDefinition, StoreError>;

    /// The named version, or the latest when the reference has none.
    async fn get(&self, reference: &DefinitionRef) -> Result<Option<TaskDefinition>, StoreError>;

    /// Every version number of a definition, ascending.
    async fn versions(&self, name: &DefinitionName) -> Result<Vec<u32>, StoreError>;

    /// Every definition's name with its version numbers, ascending (the
    /// operator console's catalogue, kept beside the definitions as they are
    /// registered).
    async fn catalog(&self) -> Result<BTreeMap<String, Vec<u32>>, StoreError>;
}
