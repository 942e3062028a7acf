//! Integrations and their breakers in the single table.

use async_trait::async_trait;

use super::attributes::{Item, get_s, n, s};
use super::errors::{dynamo_error, written};
use super::keys::*;
use super::task_store::DynamoTaskStore;
use super::versioned::{Versioned, VersionedDocuments};
use tel_core::domain::DefinitionRef;
use tel_core::integrations::Integration;
use tel_core::integrations::breaker::BreakerState;
use tel_core::ports::{BreakerStore, IntegrationStore, StoreError};

pub type DynamoIntegrationStore = VersionedDocuments<Integration>;

impl Versioned for Integration {
    const KIND: &'static str = "integration";
    const PREFIX: &'static str = "INTEGRATION#";

    fn name(&self) -> &str {
        self.name.as_str()
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn at_version(self, version: u32) -> Self {
        Integration::at_version(self, version)
    }
}

#[async_trait]
impl IntegrationStore for DynamoIntegrationStore {
    async fn register(&self, integration: Integration) -> Result<Integration, StoreError> {
        VersionedDocuments::register(self, integration).await
    }

    async fn get(&self, reference: &DefinitionRef) -> Result<Option<Integration>, StoreError> {
        match reference.version {
            Some(version) => self.exact(reference.name.as_str(), version).await,
            None => self.latest(reference.name.as_str()).await,
        }
    }
}

const BREAKER_PK: &str = "BREAKER";

#[async_trait]
impl BreakerStore for DynamoTaskStore {
    async fn load(&self, integration: &str) -> Result<BreakerState, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(BREAKER_PK))
            .key(SK, s(integration))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", self.table(), e))?;
        match out.item.as_ref().and_then(|i| get_s(i, "breaker")) {
            None => Ok(BreakerState::default()),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("breaker of {integration}: {e}"))),
        }
    }

    async fn save(
        &self,
        integration: &str,
        next: &BreakerState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let item = Item::from([
            (PK.to_owned(), s(BREAKER_PK)),
            (SK.to_owned(), s(integration)),
            (ITEM_TYPE.to_owned(), s("breaker")),
            ("version".to_owned(), n(next.version)),
            (
                "breaker".to_owned(),
                s(serde_json::to_string(next).expect("breaker state serialises")),
            ),
        ]);
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item));
        let put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(PK)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", n(expected_version))
        };
        written(put.send().await, "PutItem", self.table())
    }
}
