//! tel: the Task Execution Layer's domain, ports, adapters and handler logic.
//! Every Lambda function is a thin `main` over a handler in this crate.

pub mod domain;
