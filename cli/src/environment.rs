//! Where the CLI finds the stack: the environment, completed from
//! `.tel/dev.env` (written by `tel dev`) for anything unset.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where local state lives: the emulator's pid and log, the dev env, checkpoints.
pub const STATE_DIR: &str = ".tel";
pub const DEV_ENV: &str = ".tel/dev.env";
/// Where `tel dev` appends the functions' EMF metric lines.
pub const DEV_METRICS: &str = ".tel/metrics.log";

/// The repository root: the nearest ancestor holding `localstack/emulator.sh`.
pub fn repo_root() -> Result<PathBuf> {
    let start = std::env::current_dir()?;
    start
        .ancestors()
        .find(|dir| dir.join("localstack/emulator.sh").is_file())
        .map(Path::to_path_buf)
        .context("run tel from inside the tel repository (no localstack/emulator.sh above the current directory)")
}

/// Sets variables from `.tel/dev.env` that the environment does not already set.
pub fn load_dev_env() {
    load_env(DEV_ENV)
}

/// Sets variables from `file` (under the repository) that the environment
/// does not already set.
pub fn load_env(file: &str) {
    let Ok(root) = repo_root() else { return };
    let Ok(text) = std::fs::read_to_string(root.join(file)) else {
        return;
    };
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ");
        if let Some((key, value)) = line.split_once('=')
            && !key.starts_with('#')
            && std::env::var_os(key).is_none()
        {
            // SAFETY: called before any other thread starts (first thing in `run`).
            unsafe { std::env::set_var(key, value.trim_matches('\'')) };
        }
    }
}

/// Dummy credentials and a region for emulators, where none are configured.
pub fn default_local_credentials() {
    for (key, value) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ] {
        if std::env::var_os(key).is_none() {
            // SAFETY: called before any other thread starts.
            unsafe { std::env::set_var(key, value) };
        }
    }
}

pub fn write_dev_env(file: &Path, vars: &[(String, String)]) -> Result<PathBuf> {
    write_env(file, "`tel dev`", vars)
}

/// Writes `vars` to `file` (under the repository) as `export` lines.
pub fn write_env(file: &Path, by: &str, vars: &[(String, String)]) -> Result<PathBuf> {
    let path = repo_root()?.join(file);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let mut text = format!(
        "# Written by {by}: `source {}` to reach the stack.\n",
        file.display()
    );
    for (key, value) in vars {
        text.push_str(&format!("export {key}='{value}'\n"));
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The local AWS emulator `tel dev` starts when `AWS_ENDPOINT_URL` is unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// moto server: light, starts in a second (the default).
    Moto,
    /// LocalStack community in host mode (no Docker): the engine of the design card.
    Localstack,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Self::Moto => "moto",
            Self::Localstack => "localstack",
        }
    }

    /// `localstack/emulator.sh <verb>` for this engine.
    fn script(self, verb: &str) -> Result<std::process::Command> {
        let mut command = std::process::Command::new(repo_root()?.join("localstack/emulator.sh"));
        command.arg(verb).env("TEL_ENGINE", self.name());
        Ok(command)
    }
}

/// Starts the emulator (installing it if needed) and points `AWS_ENDPOINT_URL`
/// at it. Returns whether it started it (false: it was already running).
pub fn start_emulator(engine: Engine) -> Result<bool> {
    let running = engine
        .script("status")?
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let out = engine
        .script("start")?
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running localstack/emulator.sh")?;
    anyhow::ensure!(
        out.status.success(),
        "localstack/emulator.sh start failed ({})",
        engine.name()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let endpoint = stdout
        .lines()
        .find_map(|l| l.strip_prefix("AWS_ENDPOINT_URL="))
        .context("emulator.sh printed no endpoint")?;
    // SAFETY: called before any other thread starts.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL", endpoint.trim()) };
    Ok(!running)
}

pub fn stop_emulator(engine: Engine) {
    if let Ok(mut command) = engine.script("stop") {
        let _ = command.status();
    }
}
