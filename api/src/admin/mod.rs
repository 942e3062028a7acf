//! The operator console's API (admins only): every task by status and
//! definition, a task's events, the stack's figures, dead letters and their
//! redrive, and the definitions' catalogue. Each of these reads more than a
//! task's own items (a Scan, the queues), so none is on a function's hot path.

mod catalog;
mod dead_letters;
mod queues;
mod stats;
mod tasks;

pub use queues::{DeadLetterQueue, OperatorQueues};

use axum::Router;
use axum::routing::{get, post};

use super::ApiState;
use super::auth::Caller;
use super::problem::Problem;

/// The admin routes, as `ROUTES` lists them.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/admin/tasks", get(tasks::list))
        .route("/admin/tasks/{id}/events", get(tasks::events))
        .route("/admin/stats", get(stats::show))
        .route("/admin/dead-letters", get(dead_letters::list))
        .route(
            "/admin/dead-letters/{queue}/redrive",
            post(dead_letters::redrive),
        )
        .route("/admin/definitions", get(catalog::list))
}

impl Caller {
    /// The console is for the admin group's members only.
    pub fn require_admin(&self) -> Result<(), Problem> {
        if self.admin {
            Ok(())
        } else {
            Err(Problem::forbidden("the operator console is for admins"))
        }
    }
}
