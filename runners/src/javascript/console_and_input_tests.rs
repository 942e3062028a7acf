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
