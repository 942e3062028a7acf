//! Definitions, and their schemas compiled on first use, cached across
//! invocations of a warm function. Versions are immutable, so an exact
//! version never goes stale; which version is the latest is asked of the
//! store again after `LATEST_TTL` (a request naming no version reads it
//! once per warm function in that time, not once per task), and at once in
//! the process that registers a new version.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use tel_core::domain::schema::CompiledSchema;
use tel_core::domain::task_error::VALIDATION_ERROR;
use tel_core::domain::{
    AccessRules, DefinitionName, DefinitionRef, TaskDefinition, TaskError, TaskInstance,
};
use tel_core::ports::{DefinitionStore, StoreError};

pub struct LoadedDefinition {
    pub definition: TaskDefinition,
    /// Compiled when a function first validates against them: the router,
    /// the sweeper and the others that never do then do not link the JSON
    /// Schema compiler either (about 3 MB of a function's binary).
    input: OnceLock<Result<CompiledSchema, String>>,
    output: OnceLock<Result<CompiledSchema, String>>,
}

impl LoadedDefinition {
    pub fn new(definition: TaskDefinition) -> Self {
        Self {
            definition,
            input: OnceLock::new(),
            output: OnceLock::new(),
        }
    }

    pub fn input(&self) -> Result<&CompiledSchema, StoreError> {
        self.compiled(&self.input, &self.definition.input_schema)
    }

    pub fn output(&self) -> Result<&CompiledSchema, StoreError> {
        self.compiled(&self.output, &self.definition.output_schema)
    }

    /// Why `task`'s input cannot run (`VALIDATION_ERROR`, every violation
    /// with its instance path, schema path and message), if it does not
    /// match the input schema. Checked by the validator for a manual task and
    /// by the executor before an automated task's first attempt.
    pub fn input_error(&self, task: &TaskInstance) -> Result<Option<TaskError>, StoreError> {
        let violations = self.input()?.violations(&task.input);
        if violations.is_empty() {
            return Ok(None);
        }
        let error = TaskError::new(
            VALIDATION_ERROR,
            format!(
                "input does not match the inputSchema of {}: {} error(s)",
                task.definition_ref(),
                violations.len()
            ),
        )
        .with_details(serde_json::json!({ "errors": violations }));
        Ok(Some(error))
    }

    fn compiled<'a>(
        &'a self,
        cell: &'a OnceLock<Result<CompiledSchema, String>>,
        schema: &serde_json::Value,
    ) -> Result<&'a CompiledSchema, StoreError> {
        cell.get_or_init(|| {
            CompiledSchema::compile(schema)
                .map_err(|e| format!("{}: {e}", self.definition.reference()))
        })
        .as_ref()
        // Schemas were checked at registration: this is a damaged item.
        .map_err(|e| StoreError::Corrupt(e.clone()))
    }
}

/// Enough for every definition a busy deployment runs; beyond it the cache starts over.
const CAPACITY: usize = 1024;

/// How long "the latest version of a name" is taken from the cache: a version
/// registered elsewhere is used for new requests within this.
pub const LATEST_TTL: Duration = Duration::from_secs(5);

pub struct DefinitionCache {
    store: Arc<dyn DefinitionStore>,
    loaded: RwLock<HashMap<(String, u32), Arc<LoadedDefinition>>>,
    /// Name → (latest version, when it was read).
    latest: RwLock<HashMap<String, (u32, Instant)>>,
}

impl DefinitionCache {
    pub fn new(store: Arc<dyn DefinitionStore>) -> Self {
        Self {
            store,
            loaded: RwLock::new(HashMap::new()),
            latest: RwLock::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn DefinitionStore> {
        &self.store
    }

    /// Registers a version and makes it this process's latest at once.
    pub async fn register(&self, definition: TaskDefinition) -> Result<TaskDefinition, StoreError> {
        let registered = self.store.register(definition).await?;
        if let Ok(mut latest) = self.latest.write() {
            latest.remove(registered.name.as_str());
        }
        Ok(registered)
    }

    /// The definition a request names (latest or exact), or `None` if there is none.
    pub async fn resolve(
        &self,
        reference: &DefinitionRef,
    ) -> Result<Option<Arc<LoadedDefinition>>, StoreError> {
        let name = reference.name.as_str();
        let version = reference.version.or_else(|| self.recent_latest(name));
        if let Some(version) = version
            && let Some(hit) = self.cached(name, version)
        {
            return Ok(Some(hit));
        }
        match self.store.get(reference).await? {
            None => Ok(None),
            Some(definition) => {
                if reference.version.is_none()
                    && let Ok(mut latest) = self.latest.write()
                {
                    latest.insert(name.to_owned(), (definition.version, Instant::now()));
                }
                self.load(definition).map(Some)
            }
        }
    }

    /// The access rules that decide who may submit, read, work and manage
    /// the tasks of `name`, whichever version they name or run: the latest
    /// version's (a name with none is closed: admins only). Access revoked
    /// in a new version is thereby revoked for the old ones too, which stay
    /// runnable for whoever the latest rules allow (and for the queue).
    pub async fn latest_access(&self, name: &str) -> Result<AccessRules, StoreError> {
        let Ok(name) = DefinitionName::parse(name) else {
            return Ok(AccessRules::default());
        };
        Ok(self
            .latest(name)
            .await?
            .map(|l| l.definition.access.clone())
            .unwrap_or_default())
    }

    /// The latest version of `name`, or `None` if it has none.
    pub async fn latest(
        &self,
        name: DefinitionName,
    ) -> Result<Option<Arc<LoadedDefinition>>, StoreError> {
        self.resolve(&DefinitionRef {
            name,
            version: None,
        })
        .await
    }

    fn recent_latest(&self, name: &str) -> Option<u32> {
        let latest = self.latest.read().ok()?;
        latest
            .get(name)
            .filter(|(_, read)| read.elapsed() < LATEST_TTL)
            .map(|(version, _)| *version)
    }

    /// The title of `task` by its definition version's template, if that
    /// gives one (rendered when shown: nothing is stored). A definition that
    /// cannot be read now leaves the task untitled rather than failing the
    /// listing it is in.
    pub async fn title_of(&self, task: &TaskInstance) -> Option<String> {
        let exact = self.exact(&task.definition_name, task.definition_version);
        match exact.await {
            Ok(loaded) => loaded.and_then(|loaded| loaded.definition.title_of(task)),
            Err(e) => {
                tracing::warn!(error = %e, definition = %task.definition_ref(), "title not rendered");
                None
            }
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
        let loaded = Arc::new(LoadedDefinition::new(definition));
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
