//! tel's core: what a task is and how it may change (the domain), what the
//! engine needs of the world (the ports), integrations' rules (definitions,
//! the circuit breaker, the SSRF address rules) and time as a dependency.
//! No AWS SDK and no HTTP library: the compiler holds this crate to that.

// Task errors carry their JSON details by value (serde_json's ordered map
// makes `Value` large); they travel on failure paths only, so boxing them
// everywhere would cost clarity for nothing measurable.
#![allow(clippy::result_large_err)]

pub mod clock;
pub mod domain;
/// In-memory ports, for unit tests and the in-process pipeline: nothing is
/// durable, so no function enables the feature.
#[cfg(feature = "fakes")]
pub mod fakes;
pub mod integrations;
pub mod ports;
