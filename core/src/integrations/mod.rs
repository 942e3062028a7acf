//! Integration tasks: HTTP calls to external services described by
//! registered integrations, with credentials by reference, error classes, a circuit breaker per integration and an SSRF guard.

pub mod breaker;
pub mod definition;
pub mod ssrf;

pub use definition::Integration;
