//! tel: the Task Execution Layer's domain, ports, adapters and handler logic.
//! Every Lambda function is a thin `main` over a handler in this crate.

// Task errors carry their JSON details by value (serde_json's ordered map
// makes `Value` large); they travel on failure paths only, so boxing them
// everywhere would cost clarity for nothing measurable.
#![allow(clippy::result_large_err)]

pub mod adapters;
pub mod admin;
pub mod api;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod contract;
pub mod domain;
pub mod engine;
pub mod handlers;
pub mod integrations;
pub mod lambda;
pub mod local;
pub mod metrics;
pub mod ports;
pub mod runners;
