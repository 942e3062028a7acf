//! What a script gets beside the language: the `console` and its lines,
//! and the frozen `input` and `task`, each as the script of ours that made
//! them before (`JSON.parse`, a deep freeze, `String`/JSON display) did.

use std::time::Duration;

use serde_json::{Value, json};

use super::{SandboxLimits, ScriptOutput, run_script};

fn run(source: &str, input: Value) -> ScriptOutput {
    let limits = SandboxLimits {
        memory_bytes: 16 * 1024 * 1024,
        stack_bytes: 256 * 1024,
        timeout: Duration::from_secs(2),
    };
    run_script(source, &input, &json!({ "attempt": 1 }), &limits)
        .unwrap_or_else(|failure| panic!("{}", failure.error.message))
}

#[test]
fn console_shows_each_argument_as_string_json_or_string_value() {
    let out = run(
        "export default () => {
          const cycle = {}; cycle.self = cycle;
          console.log('a', 1, undefined, null, { x: [1] }, 10n, function f() {}, Symbol('s'));
          console.warn(cycle);
          console.info();
          return [Object.isFrozen(console), console.log === console.error, typeof console.debug];
        }",
        json!({}),
    );
    assert_eq!(
        out.logs,
        vec!["a 1  null {\"x\":[1]} 10  ", "[object Object]", ""]
    );
    assert_eq!(out.output, json!([true, true, "function"]));
}

#[test]
fn a_throwing_to_string_reaches_the_script() {
    let out = run(
        "export default () => {
          const odd = { toJSON() { throw new Error('no json'); }, toString() { throw new Error('no text'); } };
          try { console.log(odd); return 'logged'; } catch (e) { return e.message; }
        }",
        json!({}),
    );
    assert_eq!(out.output, json!("no text"));
}

#[test]
fn the_input_is_what_json_parse_makes_deeply_frozen() {
    let input = json!({
        "__proto__": { "polluted": true },
        "list": [{ "deep": { "x": 1 } }, [2, 3]],
        "int": 7,
        "float": 1.5,
        "negativeZero": -0.0,
        "huge": 18_446_744_073_709_551_615u64,
        "wide": 4_294_967_296u64,
        "text": "é 🦀",
        "nothing": null,
        "yes": true,
        "0": "index-like"
    });
    let out = run(
        "export default (input, task) => {
          const frozen = (o) => Object.isFrozen(o) && Object.values(o).every((v) => typeof v !== 'object' || v === null || frozen(v));
          return [
            Object.getPrototypeOf(input) === Object.prototype, Object.hasOwn(input, '__proto__'),
            input.__proto__.polluted, ({}).polluted ?? null,
            frozen(input), frozen(task), Array.isArray(input.list[1]),
            Number.isInteger(input.int), input.float, Object.is(input.negativeZero, -0),
            input.huge === 18446744073709551615, input.wide, input.text, input.nothing, input.yes, input[0],
            Object.getOwnPropertyDescriptor(input, 'int'), task.attempt,
          ];
        }",
        input,
    );
    assert_eq!(
        out.output,
        json!([
            true,
            true,
            true,
            null,
            true,
            true,
            true,
            true,
            1.5,
            true,
            true,
            4_294_967_296u64,
            "é 🦀",
            null,
            true,
            "index-like",
            { "value": 7, "writable": false, "enumerable": true, "configurable": false },
            1
        ])
    );
}

#[test]
fn a_console_reached_through_itself_stops_at_the_stack_limit_not_the_process() {
    let limits = SandboxLimits {
        memory_bytes: 16 * 1024 * 1024,
        stack_bytes: 256 * 1024,
        timeout: Duration::from_secs(2),
    };
    for wiring in [
        "const o = {}; o.toJSON = console.log.bind(null, o); console.log(o);",
        "const o = { toJSON() { console.log(o); return 1; } }; console.log(o);",
        "const o = {}; o.toJSON = () => String(o); o.toString = console.log.bind(null, o); console.log(o);",
    ] {
        // A crash ends the test run; short of one, the script either sees
        // JSON give up on the depth (and the line shown as a string) or
        // fails on the stack limit.
        let outcome = run_script(
            &format!("export default () => {{ {wiring} return 'logged'; }}"),
            &json!({}),
            &json!({}),
            &limits,
        );
        match outcome {
            Ok(out) => assert_eq!(out.output, json!("logged"), "{wiring}"),
            Err(failure) => assert!(
                failure.error.message.contains("stack"),
                "{wiring}: {}",
                failure.error.message
            ),
        }
    }
}

// What a review of the change as an attacker tried.

fn attempt(source: &str, input: Value, timeout: Duration) -> Result<ScriptOutput, String> {
    let limits = SandboxLimits {
        memory_bytes: 16 * 1024 * 1024,
        stack_bytes: 256 * 1024,
        timeout,
    };
    run_script(source, &input, &json!({ "attempt": 1 }), &limits).map_err(|f| f.error.message)
}

/// The deadline's interrupt (uncatchable) raised inside a
/// `toJSON` is swallowed by `show`'s `ctx.catch()`, where the old
/// prelude's `catch {}` could not catch it. The interrupt counter resets at
/// each interrupt and the outer loop polls only a few times per round, so
/// the interrupt always lands inside `toJSON` again: with `for (;;)` in
/// place of the bounded loop the attempt never ends (spawn_blocking has no
/// outer timeout).
#[test]
fn the_deadline_is_not_swallowed_by_the_console() {
    let started = std::time::Instant::now();
    let outcome = attempt(
        "export default () => {
          const o = { toJSON() { for (;;) {} } };
          for (let i = 0; i < 2000; i++) console.log(o);
          return 'ran past the deadline';
        }",
        json!({}),
        Duration::from_millis(300),
    );
    let elapsed = started.elapsed();
    match outcome {
        Err(message) => assert!(message.contains("timeout"), "{message}"),
        Ok(out) => panic!(
            "returned {} after {elapsed:?} (deadline 300ms), {} log lines",
            out.output,
            out.logs.len()
        ),
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|n| n.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

/// Each argument once is copied to a Rust `String` (outside the
/// QuickJS heap limit) before the line is capped; one 4 MiB string passed
/// 100 times costs 400 MiB (+400 MiB for the join) with a 16 MiB heap. With
/// 65,535 arguments it is hundreds of GiB: the process is OOM-killed or
/// aborts in `handle_alloc_error`. The old prelude joined in JS, inside
/// the heap limit (an `out of memory` error).
#[test]
fn console_arguments_are_not_copied_out_of_the_heap_whole() {
    let before = peak_rss_kib();
    let outcome = attempt(
        "export default () => {
          const s = 'x'.repeat(4 << 20);
          console.log(...Array(100).fill(s));
          return 'logged';
        }",
        json!({}),
        Duration::from_secs(5),
    );
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    assert!(
        grown_mib < 200,
        "peak RSS grew by {grown_mib} MiB with a 16 MiB heap ({:?})",
        outcome.map(|o| o.output)
    );
}

#[test]
fn console_odd_values_are_shown_or_thrown_as_the_prelude_did() {
    let out = attempt(
        "export default () => {
          try { console.log('\\ud800'); } catch (e) { console.log('lone: ' + e.message); }
          try { console.log(new Proxy({}, { get() { throw 1; }, ownKeys() { return []; } })); } catch (e) { console.log('proxy threw ' + e); }
          console.log(Object.create(null));
          const r = Proxy.revocable({}, {}); r.revoke();
          try { console.log(r.proxy); } catch (e) { console.log('revoked: ' + e.constructor.name); }
          console.log(...Array(60000).fill(1).slice(0, 3));
          console.log(...Array(65535));
          return 1;
        }",
        json!({}),
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(out.logs[0].starts_with("lone: "), "{}", out.logs[0]);
    assert_eq!(
        out.logs[1..5],
        ["proxy threw 1", "{}", "revoked: TypeError", "1 1 1"]
    );
    assert_eq!(out.logs[5], " ".repeat(2_000), "65,534 separators, cut");
    assert_eq!(out.logs.len(), 6);
}

/// The input against what `JSON.parse` makes of the same text.
#[test]
fn the_input_matches_what_json_parse_makes_of_its_text() {
    let input = json!({
        "__proto__": { "a": 1 },
        "constructor": { "prototype": { "x": 1 } },
        "prototype": 1,
        "toString": "no",
        "a\u{0}b": "nul",
        "0": 0, "1": 1, "4294967295": "max", "4294967294": "idx", "-0": "mz", "01": "lead",
        "🦀": "\u{1F980}\u{FFFF}\u{0}",
        "big": 9_007_199_254_740_993u64,
        "neg": -2_147_483_649i64,
        "min": -2_147_483_648i64,
        "tiny": 5e-324,
        "max": 1.7976931348623157e308,
        "float_int": 3.0,
        "nz": -0.0,
        "arr": [[], {}, [null, [true]]],
    });
    let mut input = input;
    let mut deep = json!({ "x": [1] });
    for _ in 0..20 {
        deep = json!([deep]);
    }
    input["deep"] = deep;
    let text = input.to_string();
    let source = format!(
        "export default (input) => {{
          const parsed = JSON.parse({text:?});
          const same = (a, b, path) => {{
            if (typeof a !== typeof b) return path + ': type';
            if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b) ? null : path + ': ' + String(a) + ' vs ' + String(b);
            if (Array.isArray(a) !== Array.isArray(b)) return path + ': array';
            if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return path + ': proto';
            const ka = Reflect.ownKeys(a), kb = Reflect.ownKeys(b);
            if (ka.join('|') !== kb.join('|')) return path + ': keys ' + ka.join('|') + ' vs ' + kb.join('|');
            for (const k of ka) {{
              const da = Object.getOwnPropertyDescriptor(a, k), db = Object.getOwnPropertyDescriptor(b, k);
              if (da.enumerable !== db.enumerable) return path + '.' + k + ': enumerable';
              const r = same(a[k], b[k], path + '.' + k); if (r) return r;
            }}
            return null;
          }};
          return [same(input, parsed, '$'), ({{}}).a ?? null, ({{}}).x ?? null, input.constructor.prototype.x, Object.isFrozen(input.deep[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0].x)];
        }}"
    );
    let out = attempt(&source, input, Duration::from_secs(2)).unwrap();
    assert_eq!(out.output, json!([null, null, null, 1, true]));
}

#[test]
fn large_and_deep_inputs_are_made_or_refused_cleanly() {
    // 200,000 elements; 600 levels (serde_json stops at 128); 12 MiB of text.
    let big = Value::Array((0..200_000).map(|i| json!(i)).collect());
    let out = attempt(
        "export default (input) => [input.length, input[199999], Object.isFrozen(input)]",
        big,
        Duration::from_secs(5),
    );
    assert_eq!(out.unwrap().output, json!([200_000, 199_999, true]));
    let mut deep = json!(1);
    for _ in 0..600 {
        deep = json!([deep]);
    }
    let out = attempt("export default (input) => 1", deep, Duration::from_secs(5));
    let refused = out.expect_err("600 levels");
    assert!(
        refused.contains("nests deeper than 512 levels"),
        "{refused}"
    );
    let huge_text = Value::String("😀".repeat(3 << 20));
    let out = attempt(
        "export default (input) => input.length",
        huge_text,
        Duration::from_secs(5),
    );
    assert_eq!(out.unwrap().output, json!(6_291_456));
}
