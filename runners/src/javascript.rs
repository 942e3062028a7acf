//! The JavaScript runner: each attempt gets a fresh QuickJS runtime with a
//! heap limit, a stack limit and a wall-clock deadline enforced by the
//! interrupt handler (which scripts cannot catch); the script's code is
//! compiled once per process and loaded as bytecode into each. The sandbox has no
//! filesystem, network, process, timers or module loading: only the
//! language, a deeply frozen `input`, a frozen `task` (id, workflow, step,
//! definition, attempt) as the second argument, and a `console` whose lines
//! are captured.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rquickjs::context::intrinsic;
use rquickjs::{Context, Ctx, Module, Runtime, WriteOptions};
use serde_json::{Value, json};
use tracing::info;

mod console;
#[cfg(test)]
mod console_and_input_tests;
mod frozen;
mod lazy_builtins;
#[cfg(test)]
mod lazy_builtins_tests;

use self::console::LogBuffer;
use super::{RunError, RunJob, Runner};
use tel_core::domain::task_error::{EXECUTION_ERROR, MEMORY_LIMIT, TIMEOUT};
use tel_core::domain::{Implementation, TaskError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    pub memory_bytes: usize,
    pub stack_bytes: usize,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScriptOutput {
    pub output: Value,
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScriptFailure {
    pub error: TaskError,
    /// A thrown error may go away on retry; limits and bad scripts will not.
    pub retryable: bool,
    pub logs: Vec<String>,
}

/// QuickJS needs about this much heap for itself before any script runs.
const MIN_MEMORY_BYTES: usize = 1024 * 1024;
const MAIN_ALIAS: &str = "__tel_main";

/// Runs one script to completion in a fresh sandbox. Blocking: call it on a
/// blocking thread.
pub fn run_script(
    source: &str,
    input: &Value,
    task: &Value,
    limits: &SandboxLimits,
) -> Result<ScriptOutput, ScriptFailure> {
    let logs = Arc::new(Mutex::new(LogBuffer::default()));
    let timed_out = Arc::new(AtomicBool::new(false));
    let result = run_in_sandbox(source, input, task, limits, logs.clone(), timed_out.clone());
    let logs = logs.lock().map(|mut l| l.take()).unwrap_or_default();
    match result {
        Ok(output) => Ok(ScriptOutput { output, logs }),
        Err(message) => {
            let (error, retryable) = classify(message, limits, timed_out.load(Ordering::Relaxed));
            Err(ScriptFailure {
                error,
                retryable,
                logs,
            })
        }
    }
}

fn classify(message: String, limits: &SandboxLimits, timed_out: bool) -> (TaskError, bool) {
    if timed_out {
        let error = TaskError::new(
            TIMEOUT,
            format!(
                "the script ran past its {}s timeout",
                limits.timeout.as_secs_f64()
            ),
        );
        return (error, true);
    }
    if message.contains("out of memory") || message.contains("Allocation failed") {
        let error = TaskError::new(
            MEMORY_LIMIT,
            format!(
                "the script exceeded its memory limit of {} bytes",
                limits.memory_bytes
            ),
        )
        .with_details(json!({ "limitBytes": limits.memory_bytes }));
        return (error, false);
    }
    if message.contains("stack overflow") || message.contains("Maximum call stack size exceeded") {
        let error = TaskError::new(
            EXECUTION_ERROR,
            format!(
                "the script exceeded its stack limit of {} bytes",
                limits.stack_bytes
            ),
        )
        .with_details(json!({ "limitBytes": limits.stack_bytes }));
        return (error, false);
    }
    (TaskError::new(EXECUTION_ERROR, message), true)
}

/// What an attempt's context is made with: the ECMAScript built-ins but
/// Map/Set, typed arrays and `Date`, which a script's first touch makes
/// (`lazy_builtins`), as it makes `atob` and `btoa` with the
/// `DOMException` they throw (QuickJS's full context has them; scripts
/// decode Base64 with them); not QuickJS's `performance`, whose clock
/// would be a fine timer to measure other tenants by.
type Language = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

fn language_context(runtime: &Runtime) -> Result<Context, String> {
    Context::custom::<Language>(runtime).map_err(|e| format!("could not start the sandbox: {e}"))
}

/// Each script compiled once per process to QuickJS bytecode, which every
/// attempt's fresh runtime then loads: parsing and compiling were a third
/// of an attempt's sandbox time. Only the code is shared; each attempt
/// still gets its own runtime, heap and context, so no state crosses
/// attempts.
#[derive(Default)]
struct CompiledScripts {
    /// By source text (the key is the whole text: a digest that collided
    /// would run one definition's code for another).
    modules: Mutex<CompiledModules>,
}

#[derive(Default)]
struct CompiledModules {
    by_source: HashMap<String, Arc<[u8]>>,
    /// Sources and bytecode held, in bytes.
    bytes: usize,
}

/// What the cache holds at most, sources and bytecode together: a handful
/// of definition versions run in one process, but a manager could register
/// many large ones, and the executor's memory is shared with the sandboxes.
const MAX_COMPILED_BYTES: usize = 32 * 1024 * 1024;

static COMPILED: LazyLock<CompiledScripts> = LazyLock::new(CompiledScripts::default);

/// `source` as a module whose `main`, if it defines one, is exported too.
fn module_source(source: &str) -> String {
    // A plain `function main` is not exported from a module: export it under an alias.
    format!(
        "{source}\n;export const {MAIN_ALIAS} = typeof main === 'function' ? main : undefined;\n"
    )
}

/// A runtime held to `limits`: its heap, its stack, and its deadline (which
/// sets `timed_out` when it interrupts).
fn limited_runtime(limits: &SandboxLimits, timed_out: Arc<AtomicBool>) -> Result<Runtime, String> {
    let runtime = Runtime::new().map_err(|e| format!("could not start the sandbox: {e}"))?;
    runtime.set_memory_limit(limits.memory_bytes.max(MIN_MEMORY_BYTES));
    runtime.set_max_stack_size(limits.stack_bytes);
    let deadline = Instant::now() + limits.timeout;
    runtime.set_interrupt_handler(Some(Box::new(move || {
        let over = Instant::now() >= deadline;
        if over {
            timed_out.store(true, Ordering::Relaxed);
        }
        over
    })));
    Ok(runtime)
}

/// Compiles a module to bytecode in a runtime of its own, held to `limits`.
fn compile(
    name: &str,
    source: String,
    limits: &SandboxLimits,
    timed_out: Arc<AtomicBool>,
) -> Result<Arc<[u8]>, String> {
    let runtime = limited_runtime(limits, timed_out)?;
    let context = language_context(&runtime)?;
    context.with(|ctx| {
        Module::declare(ctx.clone(), name, source)
            .and_then(|module| {
                // Line numbers stay for stack traces; the text is not kept twice.
                module.write(WriteOptions {
                    strip_source: true,
                    ..WriteOptions::default()
                })
            })
            .map(Arc::from)
            .map_err(|e| describe(&ctx, e))
    })
}

impl CompiledScripts {
    fn module(
        &self,
        source: &str,
        limits: &SandboxLimits,
        timed_out: &Arc<AtomicBool>,
    ) -> Result<Arc<[u8]>, String> {
        if let Some(bytes) = self
            .modules
            .lock()
            .ok()
            .and_then(|m| m.by_source.get(source).cloned())
        {
            return Ok(bytes);
        }
        // A script that does not compile is not kept: it fails the same way each time.
        let bytes = compile("task.js", module_source(source), limits, timed_out.clone())?;
        let size = source.len() + bytes.len();
        if let Ok(mut modules) = self.modules.lock()
            && size <= MAX_COMPILED_BYTES
        {
            if modules.bytes + size > MAX_COMPILED_BYTES {
                *modules = CompiledModules::default();
            }
            modules.bytes += size;
            modules.by_source.insert(source.to_owned(), bytes.clone());
        }
        Ok(bytes)
    }
}

/// Loads and evaluates a module compiled by `compile`.
fn load<'js>(
    ctx: &Ctx<'js>,
    bytes: &[u8],
) -> rquickjs::Result<Module<'js, rquickjs::module::Evaluated>> {
    // SAFETY: `bytes` were written by `compile` in this process, by this
    // QuickJS: valid bytecode. The engine copies what it reads
    // (`JS_READ_OBJ_ROM_DATA` is 0 in this QuickJS), so runtimes on other
    // threads may load the same bytes at once.
    let declared = unsafe { Module::load(ctx.clone(), bytes) }?;
    let (module, evaluated) = declared.eval()?;
    evaluated.finish::<()>()?;
    Ok(module)
}

fn run_in_sandbox(
    source: &str,
    input: &Value,
    task: &Value,
    limits: &SandboxLimits,
    logs: Arc<Mutex<LogBuffer>>,
    timed_out: Arc<AtomicBool>,
) -> Result<Value, String> {
    let script = COMPILED.module(source, limits, &timed_out)?;
    let runtime = limited_runtime(limits, timed_out)?;
    let context = language_context(&runtime)?;
    let text = context.with(|ctx| {
        // Engine errors become messages here, while the thrown value can still be read.
        macro_rules! step {
            ($e:expr) => {
                $e.map_err(|e| describe(&ctx, e))
            };
        }
        step!(lazy_builtins::install(&ctx))?;
        step!(console::install(&ctx, logs))?;
        let frozen = step!(frozen::frozen(&ctx, input))?;
        let task = step!(frozen::frozen(&ctx, task))?;
        let module = step!(load(&ctx, &script))?;
        let default: rquickjs::Value = step!(module.get("default"))?;
        let entry = match default.into_function() {
            Some(f) => f,
            None => step!(module.get::<_, rquickjs::Value>(MAIN_ALIAS))?
                .into_function()
                .ok_or("the script must `export default` a function or define `function main(input)`")?,
        };
        let mut result: rquickjs::Value = step!(entry.call((frozen, task)))?;
        if let Some(promise) = result.as_promise() {
            result = match promise.finish::<rquickjs::Value>() {
                Err(rquickjs::Error::WouldBlock) => {
                    return Err("the script's promise never settled (the sandbox has no timers or I/O to wait for)".to_owned());
                }
                other => step!(other)?,
            };
        }
        match step!(ctx.json_stringify(result))? {
            Some(text) => step!(text.to_string()),
            None => Err("the script returned undefined; return a JSON-serialisable value".to_owned()),
        }
    })?;
    serde_json::from_str(&text).map_err(|e| format!("the script's result is not JSON: {e}"))
}

/// A readable message for an engine error, with the thrown value's stack when there is one.
fn describe(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    match error {
        rquickjs::Error::Exception => {
            let thrown = ctx.catch();
            if let Some(exception) = thrown.as_exception() {
                let message = exception.message().unwrap_or_default();
                let name: String = exception.get("name").unwrap_or_else(|_| "Error".to_owned());
                match exception.stack().filter(|s| !s.trim().is_empty()) {
                    Some(stack) => format!("{name}: {message}\n{}", stack.trim_end()),
                    None => format!("{name}: {message}"),
                }
            } else if let Some(text) = thrown.as_string().and_then(|s| s.to_string().ok()) {
                format!("uncaught: {text}")
            } else if thrown.is_null() || thrown.is_undefined() {
                "out of memory or uncatchable engine error".to_owned()
            } else {
                ctx.json_stringify(thrown)
                    .ok()
                    .flatten()
                    .and_then(|s| s.to_string().ok())
                    .map_or_else(
                        || "uncaught non-error value".to_owned(),
                        |s| format!("uncaught: {s}"),
                    )
            }
        }
        rquickjs::Error::Allocation => "out of memory".to_owned(),
        other => other.to_string(),
    }
}

/// The `javascript` runner, with the deployment's caps on memory and stack.
pub struct JavascriptRunner {
    pub max_memory_bytes: u64,
    pub max_stack_bytes: u64,
}

#[async_trait]
impl Runner for JavascriptRunner {
    fn kind(&self) -> &'static str {
        "javascript"
    }

    async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError> {
        let Some(Implementation::Javascript { source }) = job.definition.implementation.clone()
        else {
            return Err(RunError::permanent(TaskError::new(
                EXECUTION_ERROR,
                "not a javascript implementation",
            )));
        };
        let limits = job.definition.limits.clone();
        let limits = SandboxLimits {
            memory_bytes: limits
                .memory_bytes
                .unwrap_or(self.max_memory_bytes)
                .min(self.max_memory_bytes) as usize,
            stack_bytes: limits
                .stack_bytes
                .unwrap_or(self.max_stack_bytes)
                .min(self.max_stack_bytes) as usize,
            timeout: job.timeout,
        };
        let input = job.task.input.clone();
        let task = json!({
            "taskInstanceId": job.task.task_instance_id,
            "workflowInstanceId": job.task.workflow_instance_id,
            "stepId": job.task.step_id,
            "definition": job.task.definition_ref(),
            "attempt": job.task.attempt,
        });
        let outcome =
            tokio::task::spawn_blocking(move || run_script(&source, &input, &task, &limits))
                .await
                .map_err(|e| {
                    RunError::retryable(TaskError::new(
                        EXECUTION_ERROR,
                        format!("the sandbox thread failed: {e}"),
                    ))
                })?;
        let logs = match &outcome {
            Ok(out) => &out.logs,
            Err(failure) => &failure.logs,
        };
        for line in logs {
            info!(target: "task_console", "{line}");
        }
        match outcome {
            Ok(out) => Ok(out.output),
            Err(failure) => {
                let mut error = failure.error;
                if !failure.logs.is_empty() {
                    let mut details = match error.details.take() {
                        Value::Object(map) => map,
                        _ => serde_json::Map::new(),
                    };
                    details.insert("logs".into(), json!(failure.logs));
                    error.details = Value::Object(details);
                }
                Err(RunError {
                    error,
                    retryable: failure.retryable,
                    retry_after: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SandboxLimits {
        SandboxLimits {
            memory_bytes: 16 * 1024 * 1024,
            stack_bytes: 256 * 1024,
            timeout: Duration::from_secs(2),
        }
    }

    fn run(source: &str, input: Value) -> Result<ScriptOutput, ScriptFailure> {
        run_script(source, &input, &json!({ "attempt": 2 }), &limits())
    }

    #[test]
    fn a_default_export_receives_the_input() {
        let out = run(
            "export default (input) => ({ doubled: input.n * 2 })",
            json!({ "n": 21 }),
        )
        .unwrap();
        assert_eq!(out.output, json!({ "doubled": 42 }));
    }

    #[test]
    fn the_second_argument_describes_the_task() {
        let out = run("export default (input, task) => task.attempt", json!({})).unwrap();
        assert_eq!(out.output, json!(2));
    }

    #[test]
    fn a_plain_main_function_works() {
        let out = run(
            "function main(input) { return input.items.length; }",
            json!({ "items": [1, 2, 3] }),
        )
        .unwrap();
        assert_eq!(out.output, json!(3));
    }

    #[test]
    fn async_functions_and_promises_resolve() {
        let source = "export default async (input) => { const a = await Promise.resolve(input.a); const b = await new Promise(r => r(2)); return { sum: a + b }; }";
        assert_eq!(
            run(source, json!({ "a": 1 })).unwrap().output,
            json!({ "sum": 3 })
        );
    }

    #[test]
    fn console_lines_are_captured() {
        let out = run("export default (i) => { console.log('hello', { a: 1 }); console.error('oops'); return null; }", json!({})).unwrap();
        assert_eq!(out.logs, vec!["hello {\"a\":1}", "oops"]);
    }

    #[test]
    fn the_input_is_deeply_frozen() {
        let source =
            "'use strict'; export default (input) => { input.nested.x = 2; return input; }";
        let failure = run(source, json!({ "nested": { "x": 1 } })).unwrap_err();
        assert_eq!(failure.error.code, EXECUTION_ERROR);
        assert!(
            failure.error.message.contains("TypeError"),
            "{}",
            failure.error.message
        );
    }

    #[test]
    fn a_thrown_error_is_retryable_with_its_message() {
        let failure = run(
            "export default () => { throw new Error('boom'); }",
            json!({}),
        )
        .unwrap_err();
        assert!(failure.retryable);
        assert!(
            failure.error.message.starts_with("Error: boom"),
            "{}",
            failure.error.message
        );
    }

    #[test]
    fn an_infinite_loop_times_out_and_cannot_catch_the_interrupt() {
        let started = Instant::now();
        let source =
            "export default () => { while (true) { try { while (true) {} } catch (e) {} } }";
        let failure = run_script(
            source,
            &json!({}),
            &json!({}),
            &SandboxLimits {
                timeout: Duration::from_millis(300),
                ..limits()
            },
        )
        .unwrap_err();
        assert_eq!(failure.error.code, TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_memory_bomb_hits_the_memory_limit() {
        let source = "export default () => { const a = []; while (true) a.push('x'.repeat(1024) + a.length); }";
        let failure = run(source, json!({})).unwrap_err();
        assert_eq!(
            failure.error.code, MEMORY_LIMIT,
            "{}",
            failure.error.message
        );
        assert!(!failure.retryable);
    }

    #[test]
    fn unbounded_recursion_hits_the_stack_limit() {
        let failure = run(
            "function f(n) { return f(n + 1) + 1; } export default () => f(0);",
            json!({}),
        )
        .unwrap_err();
        assert!(
            failure.error.message.contains("stack limit"),
            "{}",
            failure.error.message
        );
    }

    #[test]
    fn host_capabilities_are_absent() {
        for probe in [
            "typeof require",
            "typeof fetch",
            "typeof process",
            "typeof setTimeout",
            "typeof XMLHttpRequest",
            "typeof std",
            "typeof os",
            "typeof performance",
        ] {
            let out = run(&format!("export default () => {probe}"), json!({})).unwrap();
            assert_eq!(out.output, json!("undefined"), "{probe}");
        }
        let failure = run(
            "import fs from 'fs'; export default () => fs.readFileSync('/etc/passwd')",
            json!({}),
        )
        .unwrap_err();
        assert_eq!(failure.error.code, EXECUTION_ERROR);
    }

    #[test]
    fn undefined_and_unsettled_results_are_errors() {
        assert!(
            run("export default () => undefined", json!({}))
                .unwrap_err()
                .error
                .message
                .contains("returned undefined")
        );
        let failure = run("export default () => new Promise(() => {})", json!({})).unwrap_err();
        assert!(
            failure.error.message.contains("never settled"),
            "{}",
            failure.error.message
        );
        let failure = run("export const x = 1;", json!({})).unwrap_err();
        assert!(
            failure.error.message.contains("export default"),
            "{}",
            failure.error.message
        );
    }

    #[test]
    fn the_language_s_built_ins_are_all_there() {
        let probe = "export default () => [typeof Map, typeof Set, typeof WeakMap, typeof WeakRef, typeof Uint8Array, typeof Proxy, typeof Promise, typeof Date, typeof RegExp, typeof JSON, typeof BigInt, typeof Symbol, typeof Reflect, typeof eval].every((t) => t !== 'undefined') && atob(btoa('tel')) === 'tel'";
        assert_eq!(run(probe, json!({})).unwrap().output, json!(true));
    }

    #[test]
    fn no_state_crosses_attempts_of_the_same_compiled_script() {
        // One source, so both attempts load the same cached bytecode.
        let source = "let calls = 0;\n\
            export default () => {\n\
              calls += 1;\n\
              const seen = { calls, global: globalThis.leaked ?? null, proto: [].leaked ?? null, json: JSON.leaked ?? null };\n\
              globalThis.leaked = 'global'; Array.prototype.leaked = 'proto'; JSON.leaked = 'json';\n\
              return seen;\n\
            }";
        let first = run(source, json!({})).unwrap().output;
        let second = run(source, json!({})).unwrap().output;
        let fresh = json!({ "calls": 1, "global": null, "proto": null, "json": null });
        assert_eq!(first, fresh);
        assert_eq!(second, fresh, "the second attempt starts from nothing");
    }

    #[test]
    fn a_script_that_does_not_compile_fails_each_attempt_the_same_way() {
        for _ in 0..2 {
            let failure = run("export default (i) => {", json!({})).unwrap_err();
            assert!(
                failure.error.message.contains("SyntaxError"),
                "{}",
                failure.error.message
            );
        }
    }
}
