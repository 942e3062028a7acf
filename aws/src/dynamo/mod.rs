//! DynamoDB adapters over the single table.

mod assignment_state;
pub mod attributes;
mod batch_write;
mod compact_history;
pub use compact_history::HistoryFormat;
mod dead_letters;
mod definition_store;
mod errors;
mod figures;
mod inbox;
mod integration_store;
pub mod item_size;
pub mod keys;
mod listing;
mod notices;
mod operations;
mod people;
mod query_all;
mod search_entries;
mod slots;
pub mod stream;
mod task_item;
mod task_store;
pub mod versioned;
mod views;

pub use definition_store::DynamoDefinitionStore;
pub use integration_store::DynamoIntegrationStore;
pub use task_store::{DEFAULT_DEADLINE_SHARDS, DynamoTaskStore};
