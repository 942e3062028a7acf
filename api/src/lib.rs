//! The HTTP API: submit requests, read tasks and inboxes, work manual tasks
//! (claim, complete, …), manage definitions. One axum router, served by the
//! `api` Lambda function behind API Gateway and by the local runner on 127.0.0.1.

// Problems and task errors carry their JSON details by value (serde_json's
// ordered map makes `Value` large); they travel on failure paths only, so
// boxing them everywhere would cost clarity for nothing measurable.
#![allow(clippy::result_large_err)]

mod access;
mod actions;
pub mod admin;
pub mod auth;
mod body;
mod definitions;
mod figures;
mod filters;
pub mod form;
pub mod jwt;
pub mod openapi;
mod operations;
mod people;
pub mod problem;
mod tasks;
pub mod ui;
mod uploads;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use admin::OperatorQueues;
use auth::AuthConfig;
use problem::Problem;
use tel_engine::TaskEngine;
use tel_engine::handlers::Router as RequestRouter;

#[derive(Clone)]
pub struct ApiState {
    pub engine: Arc<TaskEngine>,
    pub requests: Arc<RequestRouter>,
    pub auth: Arc<AuthConfig>,
    /// The queues the operator console reads and redrives (none until given).
    pub queues: Arc<OperatorQueues>,
    /// How the UI signs its user in (from how the API checks tokens), and its policy.
    pub ui: Arc<ui::UiSettings>,
}

impl AsRef<AuthConfig> for ApiState {
    fn as_ref(&self) -> &AuthConfig {
        &self.auth
    }
}

impl ApiState {
    pub fn new(engine: Arc<TaskEngine>, auth: AuthConfig) -> Self {
        Self {
            requests: Arc::new(RequestRouter::new(engine.clone())),
            engine,
            ui: Arc::new(ui::UiSettings::for_auth(&auth)),
            auth: Arc::new(auth),
            queues: Arc::new(OperatorQueues::default()),
        }
    }

    pub fn with_queues(mut self, queues: OperatorQueues) -> Self {
        self.queues = Arc::new(queues);
        self
    }
}

/// Every route of the API, as the OpenAPI document lists them (checked by a
/// test). The UI's files under `/ui/` are a web page, not API, and are not listed.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/tasks"),
    ("POST", "/payloads"),
    ("GET", "/tasks"),
    ("GET", "/tasks/counts"),
    ("GET", "/tasks/definitions"),
    ("GET", "/tasks/{id}"),
    ("GET", "/tasks/{id}/form"),
    ("POST", "/tasks/{id}/claim"),
    ("POST", "/tasks/{id}/unclaim"),
    ("POST", "/tasks/{id}/complete"),
    ("POST", "/tasks/{id}/reassign"),
    ("POST", "/tasks/{id}/cancel"),
    ("POST", "/tasks/{id}/retry"),
    ("POST", "/tasks/{id}/replay"),
    ("PUT", "/definitions/{name}"),
    ("GET", "/definitions/{name}"),
    ("GET", "/definitions/{name}/versions/{version}"),
    ("GET", "/definitions/{name}/figures"),
    ("PUT", "/integrations/{name}"),
    ("GET", "/integrations/{name}"),
    ("GET", "/operations"),
    ("POST", "/operations"),
    ("GET", "/operations/matches"),
    ("GET", "/operations/{id}"),
    ("GET", "/operations/{id}/tasks"),
    ("POST", "/operations/{id}/stop"),
    ("GET", "/admin/tasks"),
    ("GET", "/admin/tasks/{id}/events"),
    ("GET", "/admin/stats"),
    ("GET", "/admin/queue-depths"),
    ("GET", "/admin/dead-letters"),
    ("POST", "/admin/dead-letters/{queue}/redrive"),
    ("GET", "/admin/definitions"),
    ("GET", "/me/notifications"),
    ("PUT", "/me/notifications"),
    ("PUT", "/directory/people/{id}"),
    ("GET", "/directory/people/{id}"),
    ("DELETE", "/directory/people/{id}"),
    ("GET", "/openapi.json"),
    ("GET", "/asyncapi.json"),
];

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/tasks", post(tasks::submit).get(tasks::inbox))
        .route("/payloads", post(uploads::create))
        .route("/tasks/counts", get(views::counts))
        .route("/tasks/definitions", get(filters::definitions))
        .route("/tasks/{id}", get(tasks::show))
        .route("/tasks/{id}/form", get(tasks::form))
        .route("/tasks/{id}/claim", post(actions::claim))
        .route("/tasks/{id}/unclaim", post(actions::unclaim))
        .route("/tasks/{id}/complete", post(actions::complete))
        .route("/tasks/{id}/reassign", post(actions::reassign))
        .route("/tasks/{id}/cancel", post(actions::cancel))
        .route("/tasks/{id}/retry", post(actions::retry))
        .route("/tasks/{id}/replay", post(actions::replay))
        .route("/operations", get(operations::list).post(operations::start))
        .route("/operations/matches", get(operations::matches))
        .route("/operations/{id}", get(operations::show))
        .route("/operations/{id}/tasks", get(operations::tasks))
        .route("/operations/{id}/stop", post(operations::stop))
        .route(
            "/definitions/{name}",
            put(definitions::register).get(definitions::latest),
        )
        .route(
            "/definitions/{name}/versions/{version}",
            get(definitions::version),
        )
        .route("/definitions/{name}/figures", get(figures::definition))
        .route("/admin/queue-depths", get(figures::queue_depths))
        .route(
            "/integrations/{name}",
            put(definitions::register_integration).get(definitions::integration),
        )
        .route(
            "/me/notifications",
            get(people::preferences).put(people::set_preferences),
        )
        .route(
            "/directory/people/{id}",
            put(people::register)
                .get(people::registered)
                .delete(people::unregister),
        )
        .merge(admin::routes())
        .merge(ui::routes())
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/asyncapi.json",
            get(|| async { axum::Json(tel_engine::contract::asyncapi::document()) }),
        )
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this route does not take that method",
            )
        })
        .with_state(state)
}

/// Serves the API on a local address until `shutdown` resolves (the local runner's way).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
