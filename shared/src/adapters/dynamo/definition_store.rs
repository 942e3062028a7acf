//! `DefinitionStore` over the single table: one item per version, the whole
//! definition stored as JSON text (schemas nest deeper than DynamoDB maps may).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use chrono::Utc;

use super::attributes::{Item, get_s, n, s};
use super::errors::unavailable;
use super::keys::*;
use crate::domain::{DefinitionName, DefinitionRef, TaskDefinition};
use crate::ports::{DefinitionStore, StoreError};

#[derive(Clone)]
pub struct DynamoDefinitionStore {
    client: Client,
    table: String,
}

/// Concurrent registrations of "the next version" retry this often.
const NEXT_VERSION_ATTEMPTS: usize = 8;

impl DynamoDefinitionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn latest_version(&self, name: &str) -> Result<Option<TaskDefinition>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :v)")
            .expression_attribute_values(":pk", s(definition_pk(name)))
            .expression_attribute_values(":v", s(VERSION_PREFIX))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("Query (latest definition)", e))?;
        out.items().first().map(definition_from_item).transpose()
    }

    async fn exact_version(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<TaskDefinition>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(definition_pk(name)))
            .key(SK, s(definition_sk(version)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem (definition)", e))?;
        out.item.as_ref().map(definition_from_item).transpose()
    }

    /// Writes the version if it is free; `Ok(false)` if it is taken.
    async fn put_new(&self, definition: &TaskDefinition) -> Result<bool, StoreError> {
        let name = definition.name.as_str();
        let item = Item::from([
            (PK.to_owned(), s(definition_pk(name))),
            (SK.to_owned(), s(definition_sk(definition.version))),
            (ITEM_TYPE.to_owned(), s("definition")),
            ("name".to_owned(), s(name)),
            ("version".to_owned(), n(definition.version)),
            ("registeredAt".to_owned(), s(Utc::now().to_rfc3339())),
            (
                "definition".to_owned(),
                s(serde_json::to_string(definition).expect("definitions serialise")),
            ),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("PutItem (definition)", e)),
        }
    }
}

fn definition_from_item(item: &Item) -> Result<TaskDefinition, StoreError> {
    let text = get_s(item, "definition")
        .ok_or_else(|| StoreError::Corrupt("definition item without body".into()))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("definition: {e}")))
}

#[async_trait]
impl DefinitionStore for DynamoDefinitionStore {
    async fn register(&self, definition: TaskDefinition) -> Result<TaskDefinition, StoreError> {
        let name = definition.name.to_string();
        if definition.version > 0 {
            if self.put_new(&definition).await? {
                return Ok(definition);
            }
            return match self.exact_version(&name, definition.version).await? {
                Some(existing) if existing == definition => Ok(existing),
                _ => Err(StoreError::VersionExists {
                    name,
                    version: definition.version,
                }),
            };
        }
        for _ in 0..NEXT_VERSION_ATTEMPTS {
            let latest = self.latest_version(&name).await?;
            // Registering what the latest version already says is a no-op, so
            // re-running a deploy script does not mint versions.
            if let Some(latest) = &latest
                && latest.clone().at_version(0) == definition
            {
                return Ok(latest.clone());
            }
            let next = definition
                .clone()
                .at_version(latest.map_or(1, |d| d.version + 1));
            if self.put_new(&next).await? {
                return Ok(next);
            }
        }
        Err(StoreError::Unavailable(format!(
            "could not allocate a new version of {name}: too many concurrent registrations"
        )))
    }

    async fn get(&self, reference: &DefinitionRef) -> Result<Option<TaskDefinition>, StoreError> {
        match reference.version {
            Some(version) => self.exact_version(reference.name.as_str(), version).await,
            None => self.latest_version(reference.name.as_str()).await,
        }
    }

    async fn versions(&self, name: &DefinitionName) -> Result<Vec<u32>, StoreError> {
        let mut versions = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :v)")
                .expression_attribute_values(":pk", s(definition_pk(name.as_str())))
                .expression_attribute_values(":v", s(VERSION_PREFIX))
                .projection_expression("SK")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Query (definition versions)", e))?;
            versions.extend(out.items().iter().filter_map(|i| {
                get_s(i, SK)?
                    .strip_prefix(VERSION_PREFIX)?
                    .parse::<u32>()
                    .ok()
            }));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(versions);
            }
        }
    }
}
