//! Definitions with their schemas compiled, cached across invocations of a
//! warm function. Versions are immutable, so an exact version never goes stale;
//! "latest" is always asked of the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::schema::CompiledSchema;
use crate::domain::{DefinitionName, DefinitionRef, TaskDefinition};
use crate::ports::{DefinitionStore, StoreError};

pub struct LoadedDefinition {
    pub definition: TaskDefinition,
    pub input: CompiledSchema,
    pub output: CompiledSchema,
}

/// Enough for every definition a busy deployment runs; beyond it the cache starts over.
const CAPACITY: usize = 1024;

pub struct DefinitionCache {
    store: Arc<dyn DefinitionStore>,
    loaded: RwLock<HashMap<(String, u32), Arc<LoadedDefinition>>>,
}

impl DefinitionCache {
    pub fn new(store: Arc<dyn DefinitionStore>) -> Self {
        Self {
            store,
            loaded: RwLock::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn DefinitionStore> {
        &self.store
    }

    /// The definition a request names (latest or exact), or `None` if there is none.
    pub async fn resolve(
        &self,
        reference: &DefinitionRef,
    ) -> Result<Option<Arc<LoadedDefinition>>, StoreError> {
        if let Some(version) = reference.version
            && let Some(hit) = self.cached(reference.name.as_str(), version)
        {
            return Ok(Some(hit));
        }
        match self.store.get(reference).await? {
            None => Ok(None),
            Some(definition) => self.load(definition).map(Some),
        }
    }

    /// An exact version, by the name and version a task records.
    pub async fn exact(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<Arc<LoadedDefinition>>, StoreError> {
        let Ok(name) = DefinitionName::parse(name) else {
            return Ok(None);
        };
        self.resolve(&DefinitionRef {
            name,
            version: Some(version),
        })
        .await
    }

    fn cached(&self, name: &str, version: u32) -> Option<Arc<LoadedDefinition>> {
        self.loaded
            .read()
            .ok()?
            .get(&(name.to_owned(), version))
            .cloned()
    }

    fn load(&self, definition: TaskDefinition) -> Result<Arc<LoadedDefinition>, StoreError> {
        if let Some(hit) = self.cached(definition.name.as_str(), definition.version) {
            return Ok(hit);
        }
        // Schemas were checked at registration; failing here means the stored item is damaged.
        let compile = |schema| {
            CompiledSchema::compile(schema)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", definition.reference())))
        };
        let loaded = Arc::new(LoadedDefinition {
            input: compile(&definition.input_schema)?,
            output: compile(&definition.output_schema)?,
            definition,
        });
        if let Ok(mut map) = self.loaded.write() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            let key = (
                loaded.definition.name.to_string(),
                loaded.definition.version,
            );
            map.insert(key, loaded.clone());
        }
        Ok(loaded)
    }
}
