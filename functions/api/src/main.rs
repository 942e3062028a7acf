//! api Lambda function (API Gateway HTTP API): configuration, clients and
//! the token verifier once, then the shared axum router.

use tel_api::{ApiState, auth::AuthConfig, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tel_shared::lambda::init_tracing();
    let (_, engine) = tel_shared::bootstrap::from_env().await?;
    let auth = AuthConfig::from_env()?;
    lambda_http::run(router(ApiState::new(engine, auth))).await
}
