//! The HTTP API served on 127.0.0.1 against a test stack, with tokens minted
//! for any user, group set or lifetime.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tel_api::admin::OperatorQueues;
use tel_api::auth::{AuthConfig, mint_dev_token};
use tel_api::{ApiState, serve};

use crate::TestStack;

pub const SECRET: &str = "test-secret-for-hs256";

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// A caller: `None` sends no Authorization header.
#[derive(Clone)]
pub struct As(pub Option<String>);

impl As {
    pub fn user(user: &str, groups: &[&str]) -> Self {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        Self(Some(
            mint_dev_token(SECRET, user, &groups, 600).expect("token"),
        ))
    }

    pub fn admin() -> Self {
        Self::user("root", &["tel-admins"])
    }

    pub fn anonymous() -> Self {
        Self(None)
    }

    pub fn forged(user: &str) -> Self {
        Self(Some(
            mint_dev_token("some-other-key", user, &[], 600).expect("token"),
        ))
    }

    pub fn expired(user: &str) -> Self {
        Self(Some(
            mint_dev_token(SECRET, user, &[], -600).expect("token"),
        ))
    }
}

impl Api {
    /// Serves the API for `stack` on a free local port, checking tokens
    /// minted with `SECRET` (what `As` makes).
    pub async fn serve(stack: &TestStack) -> Self {
        Self::serve_with(stack, AuthConfig::hs256(SECRET)).await
    }

    /// Serves the API for `stack`, checking tokens as `auth` says.
    pub async fn serve_with(stack: &TestStack, auth: AuthConfig) -> Self {
        Self::serve_over(stack, stack.engine.clone(), auth).await
    }

    /// The API over `engine` (one built another way: a counting client, a
    /// probe), checking tokens minted with `SECRET`.
    pub async fn serve_engine(stack: &TestStack, engine: Arc<tel_engine::TaskEngine>) -> Self {
        Self::serve_over(stack, engine, AuthConfig::hs256(SECRET)).await
    }

    async fn serve_over(
        stack: &TestStack,
        engine: Arc<tel_engine::TaskEngine>,
        auth: AuthConfig,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let queues = OperatorQueues::from_vars(
            tel_aws::clients::dead_letter_queues(&stack.sdk),
            stack.stack.env_vars(),
        );
        let state = ApiState::new(engine, auth).with_queues(queues);
        tokio::spawn(serve(listener, state, std::future::pending()));
        Self {
            base,
            http: crate::http_client(),
        }
    }

    pub async fn call(
        &self,
        who: &As,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(who, method, path, body, &[]).await
    }

    /// A call with extra request headers.
    pub async fn call_with(
        &self,
        who: &As,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = &who.0 {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, who: &As, path: &str) -> (StatusCode, Value) {
        self.call(who, Method::GET, path, None).await
    }

    pub async fn post(&self, who: &As, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(who, Method::POST, path, Some(body)).await
    }

    pub async fn post_with(
        &self,
        who: &As,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.call_with(who, Method::POST, path, Some(body), headers)
            .await
    }
}

pub type Shared = Arc<Api>;
