//! Running the whole stack on one machine: provisioning from the SAM
//! template, and a runner that plays Lambda's part for every function.

pub mod deploy;
pub mod event_tap;
pub mod gateway;
pub mod in_process;
pub mod invocations;
pub mod mail;
pub mod poller;
pub mod provision;
pub mod runner;
pub mod stream_lanes;
pub mod stream_reader;
pub mod template;

pub use event_tap::EventTap;
pub use invocations::{FunctionStats, InvocationLog};
pub use poller::Poller;
pub use provision::{LocalStack, provision};
pub use runner::{LocalRunner, NoticePrinter, RunnerOptions, notifier_config};
pub use template::Template;
