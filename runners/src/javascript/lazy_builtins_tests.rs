//! What a script sees of the built-ins made on first touch, and the states
//! a script can leave the global object in before it touches them: each
//! of those scripts once aborted the process or recursed without end, and
//! a crash here ends the test run.

use std::time::Duration;

use rquickjs::{Context, Runtime};
use serde_json::{Value, json};

use super::{SandboxLimits, run_script};

fn run_within(source: &str, memory_bytes: usize) -> Result<Value, String> {
    let limits = SandboxLimits {
        memory_bytes,
        stack_bytes: 256 * 1024,
        timeout: Duration::from_secs(2),
    };
    run_script(source, &json!({}), &json!({}), &limits)
        .map(|out| out.output)
        .map_err(|failure| failure.error.message)
}

fn run(source: &str) -> Result<Value, String> {
    run_within(source, 16 * 1024 * 1024)
}

/// The error a script got, for the scripts that must be refused.
fn refused(source: &str) -> String {
    match run(source) {
        Err(message) => message,
        Ok(value) => panic!("expected a refusal, the script returned {value}"),
    }
}

/// Each global name with its type and flags, touched first when `touch`.
const GLOBALS: &str = "(touch) => Object.getOwnPropertyNames(globalThis)
    .filter((name) => name !== 'console')
    .sort()
    .map((name) => {
      if (touch) void globalThis[name];
      const own = Object.getOwnPropertyDescriptor(globalThis, name);
      return [name, typeof globalThis[name], own.writable, own.enumerable, own.configurable];
    })";

/// What QuickJS's full context has, but `performance`.
fn full_context_globals() -> Value {
    let runtime = Runtime::new().unwrap();
    let context = Context::full(&runtime).unwrap();
    let text: String = context.with(|ctx| {
        ctx.eval(format!(
            "JSON.stringify(({GLOBALS})(false).filter(([name]) => name !== 'performance'))"
        ))
        .unwrap()
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_script_sees_every_global_of_the_full_context_but_performance_with_its_flags() {
    let expected = full_context_globals();
    let untouched = run(&format!(
        "export default () => ({GLOBALS})(false).map(([name]) => name)"
    ))
    .unwrap();
    let names: Vec<Value> = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g[0].clone())
        .collect();
    assert_eq!(
        untouched,
        Value::Array(names),
        "the same names before any is touched"
    );
    let touched = run(&format!("export default () => ({GLOBALS})(true)")).unwrap();
    assert_eq!(
        touched, expected,
        "the same values' types and flags once touched"
    );
}

#[test]
fn the_first_touch_of_a_name_makes_its_whole_group() {
    let out = run("export default () => [
          new Map([[1, 'a']]).get(1), new Set([1, 1]).size, new WeakMap() instanceof WeakMap,
          new Uint8Array([1, 2, 300])[2], new DataView(new ArrayBuffer(4)).byteLength,
          Object.getPrototypeOf(Int8Array) === Object.getPrototypeOf(Float64Array),
          [...new Map([[2, 'b']]).keys()][0], Object.prototype.toString.call(new Float32Array(1)),
          typeof Atomics.add, new Uint8Array([1, 2]).toHex(),
          Object.getPrototypeOf(Uint8Array.prototype).toString === Array.prototype.toString,
        ]")
    .unwrap();
    assert_eq!(
        out,
        json!([
            "a",
            1,
            true,
            44,
            4,
            true,
            2,
            "[object Float32Array]",
            "function",
            "0102",
            true
        ])
    );
}

#[test]
fn date_and_base64_are_whole_on_first_touch() {
    let out = run("export default () => {
          let thrown;
          try { atob('*'); } catch (e) { thrown = [e instanceof DOMException, e.name, Object.getPrototypeOf(DOMException.prototype) === Error.prototype]; }
          return [new Date(0).toISOString(), typeof Date.now(), Date.UTC(2000, 0), btoa('hi'), atob('aGk='),
                  thrown, DOMException.INVALID_CHARACTER_ERR, new DOMException('m', 'AbortError').code];
        }")
    .unwrap();
    assert_eq!(
        out,
        json!([
            "1970-01-01T00:00:00.000Z",
            "number",
            946_684_800_000u64,
            "aGk=",
            "hi",
            [true, "InvalidCharacterError", true],
            5,
            20
        ])
    );
    let refused = refused(
        "export default () => { Object.defineProperty(globalThis, 'btoa', { value: 1, configurable: false }); return typeof atob; }",
    );
    assert!(refused.contains("non-configurable"), "{refused}");
}

#[test]
fn what_a_script_does_to_a_name_before_its_group_is_made_stays_done() {
    let out = run("export default () => {
          Object.defineProperty(globalThis, 'Map', { value: 1, writable: true, configurable: true });
          delete globalThis.WeakMap;
          const setSize = new Set([1]).size;
          Uint8Array = 5;
          return [Map, typeof WeakMap, setSize, typeof WeakSet, Uint8Array, typeof Int8Array];
        }")
    .unwrap();
    assert_eq!(out, json!([1, "undefined", 1, "function", 5, "function"]));
}

#[test]
fn the_typed_arrays_share_the_original_to_string_whatever_a_script_put_there() {
    let out = run("export default () => {
          const original = Array.prototype.toString;
          Array.prototype.toString = () => 'replaced';
          return [Object.getPrototypeOf(Int8Array.prototype).toString === original,
                  String(new Uint8Array([1, 2])), String([1, 2])];
        }")
    .unwrap();
    assert_eq!(out, json!([true, "1,2", "replaced"]));
}

#[test]
fn a_kept_getter_makes_its_group_once() {
    let out = run("export default () => {
          const get = Object.getOwnPropertyDescriptor(globalThis, 'Map').get;
          const first = get();
          delete globalThis.Map;
          return [first === get(), typeof get(), new Set([2]).has(2), typeof Map];
        }")
    .unwrap();
    assert_eq!(out, json!([false, "undefined", true, "undefined"]));
}

#[test]
fn a_kept_setter_assigns_on_the_object_it_is_called_on() {
    let out = run("export default () => {
          const set = Object.getOwnPropertyDescriptor(globalThis, 'Set').set;
          const heir = Object.create(globalThis);
          set.call(heir, 7);
          const other = {};
          set.call(other, 8);
          return [typeof Set, heir.Set, Object.hasOwn(heir, 'Set'), other.Set];
        }")
    .unwrap();
    assert_eq!(out, json!(["function", 7, true, 8]));
}

#[test]
fn a_frozen_sealed_or_closed_global_object_is_refused_with_a_type_error() {
    for (close, touch) in [
        ("Object.freeze(globalThis)", "Map"),
        ("Object.freeze(globalThis)", "Uint8Array"),
        ("Object.seal(globalThis)", "Atomics"),
        ("Object.preventExtensions(globalThis)", "Set"),
        ("Object.preventExtensions(globalThis)", "DataView"),
    ] {
        let message = refused(&format!(
            "export default () => {{ {close}; return typeof {touch}; }}"
        ));
        assert!(
            message.starts_with("TypeError:"),
            "{close}, then {touch}: {message}"
        );
        let caught = run(&format!(
            "export default () => {{ {close}; try {{ return typeof {touch}; }} catch (e) {{ return [e.name, typeof Object, [1, 2].map((x) => x * 2)]; }} }}"
        ))
        .unwrap();
        assert_eq!(
            caught,
            json!(["TypeError", "function", [2, 4]]),
            "{close}, then {touch}: the script goes on"
        );
    }
}

#[test]
fn a_group_name_made_non_configurable_is_refused_with_a_type_error() {
    for (fixed, touch) in [
        ("Atomics", "Uint8Array"),
        ("Float64Array", "Atomics"),
        ("Uint8Array", "ArrayBuffer"),
        ("Map", "Set"),
    ] {
        let message = refused(&format!(
            "export default () => {{ Object.defineProperty(globalThis, '{fixed}', {{ value: 1, configurable: false }}); return typeof {touch}; }}"
        ));
        assert!(
            message.starts_with("TypeError:") && message.contains("non-configurable"),
            "{fixed} fixed, then {touch}: {message}"
        );
    }
    let kept_getter = refused(
        "export default () => {
          const get = Object.getOwnPropertyDescriptor(globalThis, 'Atomics').get;
          Object.defineProperty(globalThis, 'Atomics', { get, configurable: false });
          return typeof Atomics;
        }",
    );
    assert!(kept_getter.starts_with("TypeError:"), "{kept_getter}");
}

#[test]
fn a_to_string_that_would_run_script_code_in_the_middle_of_the_typed_arrays_is_refused() {
    for tamper in [
        "Object.defineProperty(Array.prototype, 'toString', { get() { Object.freeze(globalThis); return () => ''; }, configurable: true })",
        "delete Array.prototype.toString; Object.defineProperty(Object.prototype, 'toString', { get() { Object.freeze(globalThis); return () => ''; }, configurable: true })",
        "delete Array.prototype.toString; Object.setPrototypeOf(Array.prototype, new Proxy({}, { get(_, key) { if (key !== 'toString') return undefined; Object.freeze(globalThis); return () => ''; } }))",
    ] {
        let out = run(&format!(
            "export default () => {{ {tamper}; try {{ new Uint8Array(1); return 'made'; }} catch (e) {{ return [e.name, Object.isFrozen(globalThis)]; }} }}"
        ))
        .unwrap();
        assert_eq!(out, json!(["TypeError", false]), "{tamper}");
    }
    let map_set_unaffected = run("export default () => {
          Object.defineProperty(Array.prototype, 'toString', { get() { throw new Error('read'); }, configurable: true });
          return new Map([[1, 2]]).get(1);
        }")
    .unwrap();
    assert_eq!(map_set_unaffected, json!(2));
}

#[test]
fn flags_a_script_puts_on_object_prototype_do_not_stand_for_a_made_group() {
    let out = run("export default () => {
          for (let slot = 0; slot < 30; slot++) {
            Object.defineProperty(Object.prototype, slot, {
              get() { throw new Error('read ' + slot); },
              set() { throw new Error('written ' + slot); },
              configurable: true,
            });
          }
          return [typeof Map, new Set([1]).size, new Uint8Array(3).length, typeof Atomics];
        }")
    .unwrap();
    assert_eq!(out, json!(["function", 1, 3, "object"]));
}

#[test]
fn our_getter_put_back_on_its_name_after_the_group_is_made_throws_instead_of_recursing() {
    let out = run("export default () => {
          const get = Object.getOwnPropertyDescriptor(globalThis, 'Map').get;
          void Set;
          Object.defineProperty(globalThis, 'Map', { get, configurable: true });
          try { return typeof Map; } catch (e) { return e.name; }
        }")
    .unwrap();
    assert_eq!(out, json!("TypeError"));
}

#[test]
fn a_script_at_its_memory_limit_never_goes_on_with_half_a_group() {
    // Fills the heap, then frees a different number of its 4 KB arrays
    // each time, so that the touch below runs out of memory at different
    // points of making the group (or not at all).
    let mut outcomes = Vec::new();
    for freed in [0, 1, 2, 3, 4, 6, 8, 12, 16, 32] {
        let source = format!(
            "export default () => {{
              const hog = [];
              try {{ for (;;) hog.push(new Array(512).fill(hog.length)); }} catch {{}}
              const held = hog.length;
              hog.length = held > {freed} ? held - {freed} : 0;
              let typed;
              try {{ typed = new Uint8Array(4).length; }} catch (e) {{ typed = String(e); }}
              let names;
              try {{ names = [typeof Int8Array, typeof DataView, typeof Atomics, typeof ArrayBuffer].join(); }} catch (e) {{ names = String(e); }}
              return names;
            }}"
        );
        let outcome = run_within(&source, 2 * 1024 * 1024);
        match &outcome {
            Err(message) => assert!(message.contains("memory"), "{freed} freed: {message}"),
            Ok(names) => assert!(
                [
                    "function,function,object,function",
                    "undefined,undefined,undefined,undefined",
                    "null",
                ]
                .contains(&names.as_str().unwrap_or_default()),
                "{freed} freed: a group is whole or absent, not {names}"
            ),
        }
        outcomes.push(outcome.map_or_else(
            |_| "failed".to_owned(),
            |names| names.to_string().replace('"', ""),
        ));
    }
    assert!(
        outcomes
            .iter()
            .any(|names| names == "function,function,object,function")
            && outcomes
                .iter()
                .any(|names| names != "function,function,object,function"),
        "the memory left spans both sides of making the group: {outcomes:?}"
    );
}

#[test]
fn no_state_crosses_two_attempts_through_a_lazy_built_in() {
    let source = "export default () => {
          const seen = [Map.leaked ?? null, Uint8Array.prototype.leaked ?? null, typeof Set.prototype.union];
          Map.leaked = 'map'; Uint8Array.prototype.leaked = 'typed'; delete Set.prototype.union;
          return seen;
        }";
    let fresh = json!([null, null, "function"]);
    assert_eq!(run(source).unwrap(), fresh);
    assert_eq!(
        run(source).unwrap(),
        fresh,
        "the second attempt starts from nothing"
    );
}

#[test]
fn our_accessors_wired_into_each_other_throw_instead_of_recursing() {
    // QuickJS does not check the stack when it calls a C function with
    // data, so each of these once overflowed the thread's stack.
    for wiring in [
        "const g = (n) => Object.getOwnPropertyDescriptor(globalThis, n).get;
         const gm = g('Map'), gs = g('Set');
         Object.defineProperty(globalThis, 'Map', { get: gs, configurable: true });
         Object.defineProperty(globalThis, 'Set', { get: gm, configurable: true });
         return typeof Map;",
        "const g = (n) => Object.getOwnPropertyDescriptor(globalThis, n).get;
         const gm = g('Map'), gu = g('Uint8Array');
         Object.defineProperty(globalThis, 'Map', { get: gu, configurable: true });
         Object.defineProperty(globalThis, 'Uint8Array', { get: gm, configurable: true });
         return typeof Map;",
        "const gm = Object.getOwnPropertyDescriptor(globalThis, 'Map').get;
         delete globalThis.Map;
         Object.defineProperty(Object.prototype, 'Map', { get: gm, configurable: true });
         return typeof globalThis.Map;",
        "const set = Object.getOwnPropertyDescriptor(globalThis, 'Map').set;
         const o = {};
         Object.defineProperty(o, 'Map', { set });
         o.Map = 1;
         return 'assigned';",
        "const set = Object.getOwnPropertyDescriptor(globalThis, 'Map').set;
         void Set;
         Object.defineProperty(globalThis, 'Map', { set, configurable: true });
         globalThis.Map = 1;
         return 'assigned';",
    ] {
        let out = run(&format!(
            "export default () => {{ try {{ {wiring} }} catch (e) {{ return e.name; }} }}"
        ));
        assert_eq!(out, Ok(json!("TypeError")), "{wiring}");
    }
}

#[test]
fn the_kept_accessors_called_every_odd_way_answer_without_harm() {
    let out = run("export default () => {
          const d = (n) => Object.getOwnPropertyDescriptor(globalThis, n);
          const { get, set } = d('Map');
          const { get: typedGet, set: typedSet } = d('Int8Array');
          const seen = [];
          const t = (f) => { try { const v = f(); seen.push(typeof v); } catch (e) { seen.push(e.name); } };
          t(() => new get());
          t(() => Reflect.construct(get, []));
          t(() => Reflect.apply(get, 5, [1, 2, 3]));
          t(() => get.bind(null)());
          t(() => set.call(undefined));
          t(() => set.call(5, 6));
          t(() => Reflect.apply(typedSet, Symbol(), []));
          t(() => new Proxy({}, { get() { return typedGet(); } }).x);
          t(() => set.call(new Proxy({}, { set() { Object.freeze(globalThis); return true; } }), 1));
          t(() => typeof Atomics);
          return seen;
        }")
    .unwrap();
    assert_eq!(
        out,
        json!([
            "TypeError",
            "TypeError",
            "function",
            "function",
            "undefined",
            "undefined",
            "undefined",
            // The setter called on a symbol assigned `undefined` to the
            // global `Int8Array`.
            "undefined",
            "undefined",
            "string"
        ])
    );
}

#[test]
fn walks_over_the_global_object_and_global_declarations_meet_the_accessors_safely() {
    let out = run("export default () => {
          for (const n of ['Map', 'Set', 'Uint8Array', 'Atomics', 'DataView', 'WeakMap', 'ArrayBuffer'])
            Object.defineProperty(globalThis, n, { enumerable: true });
          const seen = [];
          for (const k in globalThis) seen.push(k);
          const copy = { ...globalThis };
          return [JSON.stringify(globalThis).length > 0, seen.includes('console'), Object.keys(copy).includes('console'), typeof Map];
        }")
    .unwrap();
    assert_eq!(out, json!([true, true, true, "function"]));
    let declared = run("export default () => {
          (0, eval)('function Atomics() { return 1; } var Map; var Uint8Array = 3;');
          return [typeof Atomics, typeof Map, Uint8Array, typeof Int8Array, typeof Set];
        }")
    .unwrap();
    assert_eq!(
        declared,
        json!(["function", "function", 3, "function", "function"])
    );
}

#[test]
fn a_touch_at_the_stack_limit_works_and_a_loop_of_touches_times_out() {
    let deep = run("export default () => {
          const deep = (n) => { try { return deep(n + 1); } catch { return [typeof Map, typeof Uint8Array, typeof Atomics]; } };
          return deep(0);
        }");
    assert!(
        deep == Ok(json!(["function", "function", "object"]))
            || deep.as_ref().is_err_and(|m| m.contains("stack")),
        "{deep:?}"
    );
    let looping =
        run("export default () => { for (;;) { try { void globalThis.Int8Array; } catch {} } }");
    assert!(
        looping.as_ref().is_err_and(|m| m.contains("timeout")),
        "{looping:?}"
    );
}

/// What differs from an eagerly made group, as docs/benchmarks.md says:
/// the accessor's descriptor before the first touch, and a redefinition
/// of a name's flags before it, which makes it a data property.
#[test]
fn the_differences_from_an_eager_context_are_the_documented_ones() {
    let out = run("export default () => [
          typeof Object.getOwnPropertyDescriptor(globalThis, 'Map').value,
          (() => { Object.defineProperty(globalThis, 'Set', { writable: false }); return typeof Set; })(),
          (() => { Object.defineProperty(globalThis, 'DataView', { enumerable: true }); void DataView; return Object.keys(globalThis).includes('DataView'); })(),
        ]")
    .unwrap();
    assert_eq!(out, json!(["undefined", "undefined", false]));
}

#[test]
fn a_script_s_own_names_are_put_back_whole_near_the_memory_limit() {
    for freed in [0, 1, 2, 3, 4, 6, 8, 12, 16, 32] {
        let source = format!(
            "export default () => {{
              for (const n of ['Int8Array', 'DataView', 'Atomics', 'Float64Array'])
                Object.defineProperty(globalThis, n, {{ get() {{ return 'mine'; }}, configurable: true, enumerable: true }});
              const hog = [];
              try {{ for (;;) hog.push(new Array(512).fill(hog.length)); }} catch {{}}
              const held = hog.length;
              hog.length = held > {freed} ? held - {freed} : 0;
              try {{ void new Uint8Array(4); }} catch {{}}
              let names;
              try {{ names = [Int8Array, DataView, Atomics, Float64Array].join(); }} catch (e) {{ names = String(e); }}
              return names;
            }}"
        );
        match run_within(&source, 2 * 1024 * 1024) {
            Err(message) => assert!(message.contains("memory"), "{freed} freed: {message}"),
            Ok(names) => assert!(
                names == "mine,mine,mine,mine" || names == "null",
                "{freed} freed: {names}"
            ),
        }
    }
}

// What a review of Date and atob/btoa made late as an attacker tried.

#[test]
fn a_dom_exception_made_late_is_the_eager_one() {
    let out = run("export default () => {
          const seen = [];
          try { atob('*'); } catch (e) {
            seen.push(e instanceof DOMException, e instanceof Error, e.name, e.code,
              Object.getPrototypeOf(e) === DOMException.prototype, typeof e.stack,
              Object.prototype.toString.call(e));
          }
          try { btoa('\\u0100'); } catch (e) { seen.push(e.name); }
          const d = new DOMException('m', 'DataCloneError');
          seen.push(d.code, d.message, DOMException.DATA_CLONE_ERR, btoa('hi'), atob('aGk='));
          return seen;
        }");
    assert_eq!(
        out.unwrap(),
        json!([
            true,
            true,
            "InvalidCharacterError",
            5,
            true,
            "string",
            "[object DOMException]",
            "InvalidCharacterError",
            25,
            "m",
            25,
            "aGk=",
            "hi"
        ])
    );
}

/// Script code placed where the intrinsics might read: prototypes'
/// getters/setters for the names they define, frozen prototypes.
#[test]
fn no_script_code_runs_while_date_or_base64_is_made() {
    let out = run(
        "export default () => {
          const ran = [];
          for (const name of ['toUTCString', 'toGMTString', 'constructor', 'prototype', 'name', 'message', 'code',
                              'atob', 'btoa', 'DOMException', 'Date', 'length', 'INDEX_SIZE_ERR', 'now', 'parse', 'UTC']) {
            for (const proto of [Object.prototype, Error.prototype, Function.prototype]) {
              if (Object.hasOwn(proto, name)) continue;
              Object.defineProperty(proto, name, { get() { ran.push('get ' + name); return 1; },
                set() { ran.push('set ' + name); }, configurable: true });
            }
          }
          Object.freeze(Object.prototype); Object.freeze(Error.prototype); Object.freeze(Function.prototype);
          const d = typeof Date, a = typeof atob, x = typeof DOMException;
          return [ran, d, a, x, Date.prototype.toGMTString === Date.prototype.toUTCString,
                  new Date(0).toISOString(), JSON.stringify({ d: new Date(0) }), btoa('a')];
        }",
    );
    assert_eq!(
        out.unwrap(),
        json!([
            [],
            "function",
            "function",
            "function",
            true,
            "1970-01-01T00:00:00.000Z",
            "{\"d\":\"1970-01-01T00:00:00.000Z\"}",
            "YQ=="
        ])
    );
}

/// Touches each new group from inside a conversion the engine is in the
/// middle of (JSON, toString, a Proxy trap, a getter on a to-be-made name).
#[test]
fn a_first_touch_from_inside_an_engine_conversion_answers_as_eager() {
    for (touch, expected) in [
        (
            "JSON.stringify({ toJSON() { return [Date.name, atob('YQ=='), typeof DOMException]; } })",
            json!("[\"Date\",\"a\",\"function\"]"),
        ),
        (
            "String({ toString() { return typeof Date + typeof btoa; } })",
            json!("functionfunction"),
        ),
        (
            "JSON.stringify(new Proxy({}, { ownKeys() { return [String(typeof DOMException)]; }, getOwnPropertyDescriptor() { return { value: Date.name, enumerable: true, configurable: true }; } }))",
            json!("{}"),
        ),
        (
            "(() => { Object.defineProperty(globalThis, 'atob', { get() { return typeof DOMException; }, configurable: true }); return atob + typeof btoa; })()",
            json!("functionfunction"),
        ),
        (
            "(() => { delete globalThis.DOMException; return [typeof atob, typeof DOMException].join(); })()",
            json!("function,undefined"),
        ),
        (
            "(() => { globalThis.btoa = 7; return [btoa, typeof atob, typeof DOMException].join(); })()",
            json!("7,function,function"),
        ),
        (
            "(() => { const g = Object.getOwnPropertyDescriptor(globalThis, 'Date').get; const s = Object.getOwnPropertyDescriptor(globalThis, 'atob').set; s.call({}, 1); return [typeof g.call(1), typeof atob].join(); })()",
            json!("function,function"),
        ),
        ("new Error('x', { cause: Date }).cause.name", json!("Date")),
        (
            "console.log({ toJSON() { return typeof Date; } }) ?? typeof Date",
            json!("function"),
        ),
    ] {
        assert_eq!(
            run(&format!("export default () => {touch}")),
            Ok(expected),
            "{touch}"
        );
    }
}
