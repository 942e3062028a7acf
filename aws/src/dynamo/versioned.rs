//! Immutable, numbered versions of a named document (task definitions,
//! integrations) in the single table: `<prefix><name>` / `V#<version>`, the
//! document stored as JSON text (schemas nest deeper than DynamoDB maps may).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use aws_sdk_dynamodb::Client;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::attributes::{Item, get_s, n, s};
use super::errors::{dynamo_error, written};
use super::keys::*;
use super::query_all::query_all;
use tel_core::clock::{Clock, SystemClock};
use tel_core::ports::StoreError;

/// What the versioned store needs of a document.
pub trait Versioned: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync {
    /// The `itemType` of its items, and the start of their partition key.
    const KIND: &'static str;
    const PREFIX: &'static str;
    fn name(&self) -> &str;
    /// 0 until registered.
    fn version(&self) -> u32;
    fn at_version(self, version: u32) -> Self;
}

/// Concurrent registrations of "the next version" retry this often.
const NEXT_VERSION_ATTEMPTS: usize = 8;

#[derive(Clone)]
pub struct VersionedDocuments<T> {
    client: Client,
    table: String,
    kind: PhantomData<fn() -> T>,
}

impl<T: Versioned> VersionedDocuments<T> {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            kind: PhantomData,
        }
    }

    fn pk(name: &str) -> String {
        format!("{}{name}", T::PREFIX)
    }

    fn decode(item: &Item) -> Result<T, StoreError> {
        let text = get_s(item, "document")
            .ok_or_else(|| StoreError::Corrupt(format!("{} item without a document", T::KIND)))?;
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{}: {e}", T::KIND)))
    }

    pub async fn latest(&self, name: &str) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :v)")
            .expression_attribute_values(":pk", s(Self::pk(name)))
            .expression_attribute_values(":v", s(VERSION_PREFIX))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("Query", &self.table, e))?;
        out.items().first().map(Self::decode).transpose()
    }

    pub async fn exact(&self, name: &str, version: u32) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(Self::pk(name)))
            .key(SK, s(definition_sk(version)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", &self.table, e))?;
        out.item.as_ref().map(Self::decode).transpose()
    }

    /// Every name with its versions, ascending: one Query of the catalogue
    /// partition (an entry per registered version), so it reads what was
    /// registered and never the tasks beside it.
    pub async fn catalog(&self) -> Result<BTreeMap<String, Vec<u32>>, StoreError> {
        let mut all: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (name, version) in self.named_versions(Self::catalog_pk(), None).await? {
            all.entry(name).or_default().push(version);
        }
        all.values_mut()
            .for_each(|versions| versions.sort_unstable());
        Ok(all)
    }

    /// The `name` and `version` of every item under `pk` (whose sort key
    /// starts with `sk_prefix`, when given), page by page: documents and
    /// catalogue entries both carry the two attributes.
    async fn named_versions(
        &self,
        pk: String,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<(String, u32)>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk))
            .projection_expression("#name, #version")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#version", "version");
        let query = match sk_prefix {
            Some(prefix) => query
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":prefix", s(prefix)),
            None => query.key_condition_expression("PK = :pk"),
        };
        let items = query_all(query, &self.table).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let name = get_s(item, "name")?.to_owned();
                let version = item.get("version")?.as_n().ok()?.parse().ok()?;
                Some((name, version))
            })
            .collect())
    }

    fn catalog_pk() -> String {
        format!("CATALOG#{}", T::KIND)
    }

    /// Lists a registered version in the catalogue. Idempotent: every
    /// registration writes it, the ones that find their version already
    /// stored too, so a registration cut short after its document is listed
    /// by the next one (and versions stored before the catalogue existed, by
    /// registering them again).
    async fn list_in_catalog(&self, document: &T) -> Result<(), StoreError> {
        let item = Item::from([
            (PK.to_owned(), s(Self::catalog_pk())),
            (
                SK.to_owned(),
                s(format!(
                    "{}#{}",
                    document.name(),
                    definition_sk(document.version())
                )),
            ),
            (ITEM_TYPE.to_owned(), s("catalog")),
            ("name".to_owned(), s(document.name())),
            ("version".to_owned(), n(document.version())),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", &self.table, e))?;
        Ok(())
    }

    /// Writes the version if it is free; `Ok(false)` if it is taken.
    async fn put_new(&self, document: &T) -> Result<bool, StoreError> {
        let item = Item::from([
            (PK.to_owned(), s(Self::pk(document.name()))),
            (SK.to_owned(), s(definition_sk(document.version()))),
            (ITEM_TYPE.to_owned(), s(T::KIND)),
            ("name".to_owned(), s(document.name())),
            ("version".to_owned(), n(document.version())),
            // An audit stamp no rule reads: the system clock, to the millisecond.
            ("registeredAt".to_owned(), s(SystemClock.now().to_rfc3339())),
            (
                "document".to_owned(),
                s(serde_json::to_string(document).expect("documents serialise")),
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
        written(result, "PutItem", &self.table)
    }

    /// Stores a new version. Version 0 means "the next one"; registering what
    /// the latest version already says returns it, so re-running a deploy
    /// script mints nothing. An explicit version must be new or identical.
    /// The version is listed in the catalogue either way.
    pub async fn register(&self, document: T) -> Result<T, StoreError> {
        let registered = self.store_version(document).await?;
        self.list_in_catalog(&registered).await?;
        Ok(registered)
    }

    async fn store_version(&self, document: T) -> Result<T, StoreError> {
        let name = document.name().to_owned();
        if document.version() > 0 {
            if self.put_new(&document).await? {
                return Ok(document);
            }
            return match self.exact(&name, document.version()).await? {
                Some(existing) if existing == document => Ok(existing),
                _ => Err(StoreError::VersionExists {
                    name,
                    version: document.version(),
                }),
            };
        }
        for _ in 0..NEXT_VERSION_ATTEMPTS {
            let latest = self.latest(&name).await?;
            if let Some(latest) = &latest
                && latest.clone().at_version(0) == document
            {
                return Ok(latest.clone());
            }
            let next = document
                .clone()
                .at_version(latest.map_or(1, |d| d.version() + 1));
            if self.put_new(&next).await? {
                return Ok(next);
            }
        }
        Err(StoreError::Unavailable(format!(
            "could not allocate a new version of {name}: too many concurrent registrations"
        )))
    }

    pub async fn versions(&self, name: &str) -> Result<Vec<u32>, StoreError> {
        let found = self
            .named_versions(Self::pk(name), Some(VERSION_PREFIX))
            .await?;
        Ok(found.into_iter().map(|(_, version)| version).collect())
    }
}
