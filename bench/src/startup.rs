//! Each function binary's cold start, memory and size: the binary runs
//! against a stand-in for the Lambda Runtime API on 127.0.0.1 and a fresh
//! stack on the emulator. Measured: process start to its first
//! `GET /runtime/invocation/next` (ready), the first invocation's latency,
//! peak RSS (VmHWM) after it, and the stripped binary's size; each the
//! median of several starts, the fastest start beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tel_engine::bootstrap;
use tel_local::{Template, provision};

#[derive(Default)]
struct Stand {
    ready: Option<Instant>,
    served: bool,
    answered: Option<(Instant, String)>,
}

type Shared = (Arc<Mutex<Stand>>, Value);

async fn next(State((stand, event)): State<Shared>) -> (HeaderMap, String) {
    let first = {
        let mut s = stand.lock().unwrap();
        s.ready.get_or_insert_with(Instant::now);
        !std::mem::replace(&mut s.served, true)
    };
    if !first {
        // One invocation per run: later polls wait until the process is stopped.
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        (chrono::Utc::now().timestamp_millis() + 30_000)
            .to_string()
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:bench"
            .parse()
            .unwrap(),
    );
    (headers, event.to_string())
}

async fn respond(
    State((stand, _)): State<Shared>,
    Path(_id): Path<String>,
    body: String,
) -> &'static str {
    stand.lock().unwrap().answered = Some((Instant::now(), body));
    "{}"
}

async fn init_error(State((stand, _)): State<Shared>, body: String) -> &'static str {
    stand.lock().unwrap().answered = Some((Instant::now(), format!("init error: {body}")));
    "{}"
}

fn event_for(function: &str) -> Value {
    match function {
        "timeout-sweeper" => {
            json!({ "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {} })
        }
        "api" => json!({
            "version": "2.0", "routeKey": "GET /openapi.json", "rawPath": "/openapi.json", "rawQueryString": "",
            "headers": { "host": "example.com" },
            "requestContext": { "accountId": "000000000000", "apiId": "api", "domainName": "example.com", "domainPrefix": "example",
                "http": { "method": "GET", "path": "/openapi.json", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
                "requestId": "r", "routeKey": "GET /openapi.json", "stage": "$default", "time": "26/Nov/2026:00:00:00 +0000", "timeEpoch": 0 },
            "isBase64Encoded": false
        }),
        _ => json!({ "Records": [] }),
    }
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Every function a deployment runs.
const FUNCTIONS: [&str; 8] = [
    "router",
    "validator",
    "executor",
    "manual-assign",
    "timeout-sweeper",
    "api",
    "publisher",
    "notifier",
];

/// One start: process start → ready, the first invocation, peak RSS.
struct Start {
    ready: Duration,
    first: Duration,
    rss_mb: f64,
}

pub async fn run(bin_dir: PathBuf, runs: usize, only: Vec<String>) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "set AWS_ENDPOINT_URL (localstack/emulator.sh start)"
    );
    anyhow::ensure!(runs > 0, "--runs must be at least 1");
    let sdk = bootstrap::sdk_config().await;
    let name = format!(
        "startup-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let stack = provision(&sdk, &Template::embedded(), &name, &BTreeMap::new()).await?;
    let mut env: Vec<(String, String)> = stack.env_vars();
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        env.push((
            key.into(),
            std::env::var(key).unwrap_or_else(|_| "test".into()),
        ));
    }
    println!("{runs} start(s) each; medians, the fastest start in brackets");
    println!(
        "{:<16} {:>22} {:>14} {:>12} {:>12}",
        "function", "start→ready", "1st invocation", "peak RSS", "binary"
    );
    for function in FUNCTIONS
        .into_iter()
        .filter(|f| only.is_empty() || only.iter().any(|o| o == f))
    {
        let binary = bin_dir.join(function);
        let size_mb = std::fs::metadata(&binary)?.len() as f64 / 1e6;
        let mut starts = Vec::with_capacity(runs);
        for _ in 0..runs {
            starts.push(start_once(&binary, function, &env).await?);
        }
        let ready: Vec<Duration> = starts.iter().map(|s| s.ready).collect();
        let first: Vec<Duration> = starts.iter().map(|s| s.first).collect();
        let rss: Vec<f64> = starts.iter().map(|s| s.rss_mb).collect();
        println!(
            "{function:<16} {:>10.1?} [{:>8.1?}] {:>14.1?} {:>9.1} MB {:>9.1} MB",
            median(&ready),
            ready.iter().min().copied().unwrap_or_default(),
            median(&first),
            median(&rss),
            size_mb
        );
    }
    stack.destroy(&sdk).await?;
    Ok(())
}

fn median<T: Copy + PartialOrd>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    sorted[sorted.len() / 2]
}

/// Starts `binary` against a fresh stand-in Runtime API, serves it one
/// invocation, and stops it.
async fn start_once(
    binary: &std::path::Path,
    function: &str,
    env: &[(String, String)],
) -> anyhow::Result<Start> {
    let stand = Arc::new(Mutex::new(Stand::default()));
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(respond))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state((stand.clone(), event_for(function)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("TEL_AUTH_MODE", "gateway")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stand.lock().unwrap().answered.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rss_mb = peak_rss_mb(pid).unwrap_or(0.0);
    let _ = child.kill().await;
    server.abort();
    let s = stand.lock().unwrap();
    let (Some(ready), Some((answered, body))) = (s.ready, s.answered.as_ref()) else {
        anyhow::bail!("{function}: no answer within 20 s");
    };
    anyhow::ensure!(!body.starts_with("init error"), "{function}: {body}");
    Ok(Start {
        ready: ready - started,
        first: *answered - ready,
        rss_mb,
    })
}
