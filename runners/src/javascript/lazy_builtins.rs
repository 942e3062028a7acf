//! The built-ins few task scripts use, made on a script's first touch:
//! typed arrays and Map/Set are a third of a fresh context's time (about
//! 30 of 100 µs), and an attempt that never names them should not pay for
//! them. Each group is one QuickJS intrinsic; until it is made, its global
//! names are accessors (as Node makes some of its globals) whose first use
//! makes the whole group. A script sees the same names, values and property
//! flags as in an eager context, and what it does to a name before the
//! group is made (replace it, delete it, fix it) stays done.
//!
//! Written against QuickJS's C API: accessors made by JavaScript cost most
//! of what they save (28 µs for the twenty names, these 6 µs).

use std::ffi::{CStr, c_int};

use rquickjs::{Ctx, qjs};

type AddIntrinsic = unsafe extern "C" fn(*mut qjs::JSContext) -> c_int;

/// Each lazy global name and the group it belongs to; a test holds the
/// names to what QuickJS's full context defines.
const NAMES: [(&CStr, usize); 20] = [
    (c"Map", 0),
    (c"Set", 0),
    (c"WeakMap", 0),
    (c"WeakSet", 0),
    (c"ArrayBuffer", 1),
    (c"SharedArrayBuffer", 1),
    (c"Uint8ClampedArray", 1),
    (c"Int8Array", 1),
    (c"Uint8Array", 1),
    (c"Int16Array", 1),
    (c"Uint16Array", 1),
    (c"Int32Array", 1),
    (c"Uint32Array", 1),
    (c"BigInt64Array", 1),
    (c"BigUint64Array", 1),
    (c"Float16Array", 1),
    (c"Float32Array", 1),
    (c"Float64Array", 1),
    (c"DataView", 1),
    (c"Atomics", 1),
];

/// The intrinsic that makes each group.
const GROUPS: [AddIntrinsic; 2] = [qjs::JS_AddIntrinsicMapSet, qjs::JS_AddIntrinsicTypedArrays];

/// Set in an accessor's magic number on its setter.
const SETTER: c_int = 1 << 8;

/// Where a context's state object keeps, after each name's getter (for
/// telling ours from a script's), whether each group was made.
const MADE_AT: u32 = NAMES.len() as u32;

/// Puts each lazy name on the global object as an accessor pair. Every
/// accessor holds one state object, which no script can reach.
pub(super) fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let ctx = ctx.as_raw().as_ptr();
    // SAFETY: the context is alive and used by this thread only; each value
    // made here is either handed over (to a property) or freed.
    unsafe {
        let mut state = qjs::JS_NewObject(ctx);
        if qjs::JS_IsException(state) {
            return Err(rquickjs::Error::Exception);
        }
        let global = qjs::JS_GetGlobalObject(ctx);
        let mut result = Ok(());
        for (index, (name, _)) in NAMES.iter().enumerate() {
            let magic = index as c_int;
            let get = qjs::JS_NewCFunctionData(ctx, Some(accessor), 0, magic, 1, &mut state);
            let set =
                qjs::JS_NewCFunctionData(ctx, Some(accessor), 1, magic | SETTER, 1, &mut state);
            let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
            let defined = !qjs::JS_IsException(get)
                && !qjs::JS_IsException(set)
                && qjs::JS_SetPropertyUint32(ctx, state, index as u32, qjs::JS_DupValue(ctx, get))
                    >= 0
                && qjs::JS_DefinePropertyGetSet(
                    ctx,
                    global,
                    atom,
                    get,
                    set,
                    qjs::JS_PROP_CONFIGURABLE as c_int,
                ) >= 0;
            qjs::JS_FreeAtom(ctx, atom);
            if !defined {
                // What `JS_DefinePropertyGetSet` was not reached to take.
                result = Err(rquickjs::Error::Exception);
                break;
            }
        }
        qjs::JS_FreeValue(ctx, global);
        qjs::JS_FreeValue(ctx, state);
        result
    }
}

/// Every lazy name's getter and setter: makes the name's group, then reads
/// or assigns the name as the script asked.
unsafe extern "C" fn accessor(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    argc: c_int,
    argv: *mut qjs::JSValue,
    magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    let index = (magic & !SETTER) as usize;
    let Some((name, group)) = NAMES.get(index) else {
        return qjs::JS_UNDEFINED;
    };
    // SAFETY: QuickJS calls us with the context, the arguments (at least
    // `length` of them) and the one data value we were made with.
    unsafe {
        if make(ctx, *data, *group) < 0 {
            return qjs::JS_EXCEPTION;
        }
        let global = qjs::JS_GetGlobalObject(ctx);
        let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
        let result = if magic & SETTER == 0 {
            qjs::JS_GetProperty(ctx, global, atom)
        } else {
            let value = if argc > 0 {
                qjs::JS_DupValue(ctx, *argv)
            } else {
                qjs::JS_UNDEFINED
            };
            if qjs::JS_SetProperty(ctx, global, atom, value) < 0 {
                qjs::JS_EXCEPTION
            } else {
                qjs::JS_UNDEFINED
            }
        };
        qjs::JS_FreeAtom(ctx, atom);
        qjs::JS_FreeValue(ctx, global);
        result
    }
}

/// How a script left one of a group's names before the group was made.
enum Before {
    /// Still our accessor.
    Ours,
    /// Deleted.
    Gone,
    /// Its own property, put back once the group is made.
    Script(qjs::JSPropertyDescriptor),
}

/// Makes `group` once per context: takes its names off the global object,
/// adds the intrinsic, and puts back what a script had made of any of them.
/// -1 with the engine's exception pending (memory ran out).
unsafe fn make(ctx: *mut qjs::JSContext, state: qjs::JSValue, group: usize) -> c_int {
    // SAFETY: as for `accessor`; each descriptor's values are freed once.
    unsafe {
        let made_at = MADE_AT + group as u32;
        let made = qjs::JS_GetPropertyUint32(ctx, state, made_at);
        if qjs::JS_IsException(made) {
            return -1;
        }
        if !qjs::JS_IsUndefined(made) {
            return 0;
        }
        if qjs::JS_SetPropertyUint32(ctx, state, made_at, qjs::JS_TRUE) < 0 {
            return -1;
        }
        let global = qjs::JS_GetGlobalObject(ctx);
        let members: Vec<(usize, &CStr)> = NAMES
            .iter()
            .enumerate()
            .filter(|(_, (_, g))| *g == group)
            .map(|(index, (name, _))| (index, *name))
            .collect();
        let mut before = Vec::with_capacity(members.len());
        let mut status = 0;
        for &(index, name) in &members {
            let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
            let mut own = qjs::JSPropertyDescriptor {
                flags: 0,
                value: qjs::JS_UNDEFINED,
                getter: qjs::JS_UNDEFINED,
                setter: qjs::JS_UNDEFINED,
            };
            let found = qjs::JS_GetOwnProperty(ctx, &mut own, global, atom);
            if found < 0 {
                status = -1;
            }
            before.push(if found <= 0 {
                Before::Gone
            } else if is_ours(ctx, state, index, &own) {
                free_descriptor(ctx, &own);
                Before::Ours
            } else {
                Before::Script(own)
            });
            // A name a script made non-configurable stays: the intrinsic
            // does not replace it either.
            qjs::JS_DeleteProperty(ctx, global, atom, 0);
            qjs::JS_FreeAtom(ctx, atom);
        }
        if status == 0 {
            status = GROUPS[group](ctx);
        }
        for ((_, name), before) in members.iter().zip(before) {
            let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
            match before {
                Before::Ours => {}
                Before::Gone => {
                    qjs::JS_DeleteProperty(ctx, global, atom, 0);
                }
                Before::Script(own) => {
                    qjs::JS_DefineProperty(
                        ctx,
                        global,
                        atom,
                        own.value,
                        own.getter,
                        own.setter,
                        redefining(own.flags),
                    );
                    free_descriptor(ctx, &own);
                }
            }
            qjs::JS_FreeAtom(ctx, atom);
        }
        qjs::JS_FreeValue(ctx, global);
        status
    }
}

/// Whether `own` is the getter `install` put on name `index`.
unsafe fn is_ours(
    ctx: *mut qjs::JSContext,
    state: qjs::JSValue,
    index: usize,
    own: &qjs::JSPropertyDescriptor,
) -> bool {
    // SAFETY: as for `make`.
    unsafe {
        if own.flags & qjs::JS_PROP_GETSET as c_int == 0 || !qjs::JS_IsObject(own.getter) {
            return false;
        }
        let ours = qjs::JS_GetPropertyUint32(ctx, state, index as u32);
        let same = qjs::JS_IsObject(ours)
            && qjs::JS_VALUE_GET_PTR(ours) == qjs::JS_VALUE_GET_PTR(own.getter);
        qjs::JS_FreeValue(ctx, ours);
        same
    }
}

/// `JS_DefineProperty`'s flags that put back a property as `flags` (from
/// `JS_GetOwnProperty`) describe it.
fn redefining(flags: c_int) -> c_int {
    let kept = flags
        & (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_ENUMERABLE | qjs::JS_PROP_WRITABLE) as c_int;
    let has = if flags & qjs::JS_PROP_GETSET as c_int != 0 {
        qjs::JS_PROP_HAS_GET
            | qjs::JS_PROP_HAS_SET
            | qjs::JS_PROP_HAS_CONFIGURABLE
            | qjs::JS_PROP_HAS_ENUMERABLE
    } else {
        qjs::JS_PROP_HAS_VALUE
            | qjs::JS_PROP_HAS_WRITABLE
            | qjs::JS_PROP_HAS_CONFIGURABLE
            | qjs::JS_PROP_HAS_ENUMERABLE
    };
    kept | has as c_int
}

unsafe fn free_descriptor(ctx: *mut qjs::JSContext, own: &qjs::JSPropertyDescriptor) {
    // SAFETY: the descriptor's values are owned by the caller and freed once.
    unsafe {
        qjs::JS_FreeValue(ctx, own.value);
        qjs::JS_FreeValue(ctx, own.getter);
        qjs::JS_FreeValue(ctx, own.setter);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rquickjs::{Context, Runtime};
    use serde_json::{Value, json};

    use super::super::{SandboxLimits, run_script};

    fn run(source: &str) -> Result<Value, String> {
        let limits = SandboxLimits {
            memory_bytes: 16 * 1024 * 1024,
            stack_bytes: 256 * 1024,
            timeout: Duration::from_secs(2),
        };
        run_script(source, &json!({}), &json!({}), &limits)
            .map(|out| out.output)
            .map_err(|failure| failure.error.message)
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
            ]")
        .unwrap();
        assert_eq!(
            out,
            json!(["a", 1, true, 44, 4, true, 2, "[object Float32Array]"])
        );
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
    fn a_name_a_script_made_fixed_stays_as_it_made_it() {
        let out = run("export default () => {
              Object.defineProperty(globalThis, 'Map', { value: 1, configurable: false });
              return [Map, new Set([3]).has(3), Object.getOwnPropertyDescriptor(globalThis, 'Map').configurable];
            }")
        .unwrap();
        assert_eq!(out, json!([1, true, false]));
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
}
