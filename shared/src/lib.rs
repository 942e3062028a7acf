//! tel: the Task Execution Layer's domain, ports, adapters and handler logic.
//! Every Lambda function is a thin `main` over a handler in this crate.

pub mod adapters;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod lambda;
pub mod local;
pub mod ports;
pub mod runners;
