//! Operations on a running deployment: what the CLI's admin commands do.

pub mod dead_letter_queue;
pub mod stats;
