//! `DefinitionStore` over the single table: versioned task definitions.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::versioned::{Versioned, VersionedDocuments};
use tel_core::domain::{DefinitionName, DefinitionRef, TaskDefinition};
use tel_core::ports::{DefinitionStore, StoreError};

pub type DynamoDefinitionStore = VersionedDocuments<TaskDefinition>;

impl Versioned for TaskDefinition {
    const KIND: &'static str = "definition";
    const PREFIX: &'static str = "DEF#";

    fn name(&self) -> &str {
        self.name.as_str()
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn at_version(self, version: u32) -> Self {
        TaskDefinition::at_version(self, version)
    }
}

#[async_trait]
impl DefinitionStore for DynamoDefinitionStore {
    async fn register(&self, definition: TaskDefinition) -> Result<TaskDefinition, StoreError> {
        VersionedDocuments::register(self, definition).await
    }

    async fn get(&self, reference: &DefinitionRef) -> Result<Option<TaskDefinition>, StoreError> {
        match reference.version {
            Some(version) => self.exact(reference.name.as_str(), version).await,
            None => self.latest(reference.name.as_str()).await,
        }
    }

    async fn versions(&self, name: &DefinitionName) -> Result<Vec<u32>, StoreError> {
        VersionedDocuments::versions(self, name.as_str()).await
    }

    async fn catalog(&self) -> Result<BTreeMap<String, Vec<u32>>, StoreError> {
        VersionedDocuments::catalog(self).await
    }
}
