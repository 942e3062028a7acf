//! tel: the Task Execution Layer's adapters, handlers, runners and API over
//! its core (`tel-core`).
//! Every Lambda function is a thin `main` over a handler in this crate.

// Task errors carry their JSON details by value (serde_json's ordered map
// makes `Value` large); they travel on failure paths only, so boxing them
// everywhere would cost clarity for nothing measurable.
#![allow(clippy::result_large_err)]

// The core layer: the domain, the ports, integrations' rules and time, with
// no AWS SDK and no HTTP (its own crate, `tel-core`); here at the same paths.
pub use tel_core::{clock, domain, integrations, ports};

/// The AWS adapters (`tel-aws`), at their old path.
pub use tel_aws as adapters;
pub mod admin;
pub mod bootstrap;
pub mod config;
pub mod contract;
pub mod engine;
pub mod handlers;
pub mod lambda;
pub mod metrics;
/// The runner port, at its old path (the runners themselves: `tel-runners`).
pub use tel_core::ports::runner as runners;
