//! The built-ins few task scripts use, made on a script's first touch:
//! typed arrays, Map/Set, `Date` and `atob`/`btoa` (with `DOMException`)
//! were 41 of a fresh context's 100 µs, and an attempt that never names
//! them should not pay for them. Each group is one QuickJS intrinsic; until it is made, its global
//! names are accessors (as Node makes some of its globals) whose first use
//! makes the whole group. A script sees the same names, values and property
//! flags as in an eager context, and what it does to a name before the
//! group is made (replace it, delete it) stays done.
//!
//! Adding an intrinsic late is safe only into a state QuickJS expects: it
//! defines the group's names on the global object (and aborts the process
//! if `Atomics` is already there), and the typed arrays read
//! `Array.prototype.toString`. So the first touch refuses, with a
//! `TypeError`, a global object a script made non-extensible, a group name
//! it made non-configurable, and a `toString` that is not a plain value
//! (a getter would run script code in the middle of the intrinsic). No
//! script code runs between those checks and the group's last name. The
//! flags saying which group was made live where no script reaches them.
//!
//! Written against QuickJS's C API: accessors made by JavaScript cost most
//! of what they save (28 µs for twenty names, these 6 µs).

use std::cell::Cell;
use std::ffi::{CStr, c_int};

use rquickjs::{Ctx, qjs};

type AddIntrinsic = unsafe extern "C" fn(*mut qjs::JSContext) -> c_int;

/// Each lazy global name and the group it belongs to; a test holds the
/// names to what QuickJS's full context defines.
const NAMES: [(&CStr, usize); 24] = [
    (c"Map", MAP_SET),
    (c"Set", MAP_SET),
    (c"WeakMap", MAP_SET),
    (c"WeakSet", MAP_SET),
    (c"ArrayBuffer", TYPED_ARRAYS),
    (c"SharedArrayBuffer", TYPED_ARRAYS),
    (c"Uint8ClampedArray", TYPED_ARRAYS),
    (c"Int8Array", TYPED_ARRAYS),
    (c"Uint8Array", TYPED_ARRAYS),
    (c"Int16Array", TYPED_ARRAYS),
    (c"Uint16Array", TYPED_ARRAYS),
    (c"Int32Array", TYPED_ARRAYS),
    (c"Uint32Array", TYPED_ARRAYS),
    (c"BigInt64Array", TYPED_ARRAYS),
    (c"BigUint64Array", TYPED_ARRAYS),
    (c"Float16Array", TYPED_ARRAYS),
    (c"Float32Array", TYPED_ARRAYS),
    (c"Float64Array", TYPED_ARRAYS),
    (c"DataView", TYPED_ARRAYS),
    (c"Atomics", TYPED_ARRAYS),
    (c"Date", DATE),
    (c"atob", BASE64),
    (c"btoa", BASE64),
    (c"DOMException", BASE64),
];

const MAP_SET: usize = 0;
const TYPED_ARRAYS: usize = 1;
const DATE: usize = 2;
/// `atob` and `btoa`, with the `DOMException` they throw.
const BASE64: usize = 3;

/// The intrinsic that makes each group.
const GROUPS: [AddIntrinsic; 4] = [
    qjs::JS_AddIntrinsicMapSet,
    qjs::JS_AddIntrinsicTypedArrays,
    qjs::JS_AddIntrinsicDate,
    qjs::JS_AddIntrinsicAToB,
];

thread_local! {
    /// How many of our accessors are forwarding a read or an assignment on
    /// this thread: QuickJS does not check the stack when it calls a C
    /// function with data, so a script that wires our accessors into each
    /// other (or ours into an object's own property) would recurse in
    /// native code until the thread's stack overflows.
    static FORWARDING: Cell<u32> = const { Cell::new(0) };
}

/// More nested forwards than any script reaches but by wiring our
/// accessors into a cycle.
const MAX_FORWARDING: u32 = 16;

/// Set in an accessor's magic number on its setter.
const SETTER: c_int = 1 << 8;

/// The state object's slots: each name's getter (for telling ours from a
/// script's) at its index, then whether each group was made, then the
/// `Array.prototype.toString` the context began with.
const MADE_AT: u32 = NAMES.len() as u32;
const ORIGINAL_TO_STRING: u32 = MADE_AT + GROUPS.len() as u32;

/// Puts each lazy name on the global object as an accessor pair. Every
/// accessor holds one state object, which no script can reach: it is only
/// in the accessors' data, and has no prototype, so nothing a script puts
/// on `Object.prototype` answers for a slot it lacks.
pub(super) fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let ctx = ctx.as_raw().as_ptr();
    // SAFETY: the context is alive and used by this thread only; each value
    // made here is either handed over (to a property) or freed.
    let installed = unsafe {
        let mut state = qjs::JS_NewObjectProto(ctx, qjs::JS_NULL);
        if qjs::JS_IsException(state) {
            return Err(rquickjs::Error::Exception);
        }
        let global = qjs::JS_GetGlobalObject(ctx);
        let installed = keep_to_string(ctx, state) && define_accessors(ctx, global, &mut state);
        qjs::JS_FreeValue(ctx, global);
        qjs::JS_FreeValue(ctx, state);
        installed
    };
    if installed {
        Ok(())
    } else {
        Err(rquickjs::Error::Exception)
    }
}

/// Keeps the context's own `Array.prototype.toString`, which the typed
/// arrays' prototype shares in an eager context, in case a script replaces
/// it before they are made.
unsafe fn keep_to_string(ctx: *mut qjs::JSContext, state: qjs::JSValue) -> bool {
    // SAFETY: as for `install`; the value read is handed to the state.
    unsafe {
        let array = qjs::JS_NewArray(ctx);
        if qjs::JS_IsException(array) {
            return false;
        }
        let to_string = qjs::JS_GetPropertyStr(ctx, array, c"toString".as_ptr());
        qjs::JS_FreeValue(ctx, array);
        !qjs::JS_IsException(to_string)
            && qjs::JS_DefinePropertyValueUint32(
                ctx,
                state,
                ORIGINAL_TO_STRING,
                to_string,
                qjs::JS_PROP_C_W_E as c_int,
            ) >= 0
    }
}

unsafe fn define_accessors(
    ctx: *mut qjs::JSContext,
    global: qjs::JSValue,
    state: &mut qjs::JSValue,
) -> bool {
    // SAFETY: as for `install`. `JS_DefinePropertyGetSet` and
    // `JS_DefinePropertyValueUint32` take their values whether they
    // succeed or not; freeing an exception value is a no-op.
    unsafe {
        for (index, (name, _)) in NAMES.iter().enumerate() {
            let magic = index as c_int;
            let get = qjs::JS_NewCFunctionData(ctx, Some(accessor), 0, magic, 1, state);
            let set = qjs::JS_NewCFunctionData(ctx, Some(accessor), 1, magic | SETTER, 1, state);
            if qjs::JS_IsException(get) || qjs::JS_IsException(set) {
                qjs::JS_FreeValue(ctx, get);
                qjs::JS_FreeValue(ctx, set);
                return false;
            }
            let kept = qjs::JS_DefinePropertyValueUint32(
                ctx,
                *state,
                index as u32,
                qjs::JS_DupValue(ctx, get),
                qjs::JS_PROP_C_W_E as c_int,
            );
            let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
            if kept < 0 || atom == qjs::JS_ATOM_NULL {
                qjs::JS_FreeValue(ctx, get);
                qjs::JS_FreeValue(ctx, set);
                return false;
            }
            let defined = qjs::JS_DefinePropertyGetSet(
                ctx,
                global,
                atom,
                get,
                set,
                qjs::JS_PROP_CONFIGURABLE as c_int,
            );
            qjs::JS_FreeAtom(ctx, atom);
            if defined < 0 {
                return false;
            }
        }
        true
    }
}

/// Every lazy name's getter and setter: makes the name's group, then reads
/// or assigns the name as the script asked.
unsafe extern "C" fn accessor(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
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
        let state = *data;
        if make(ctx, state, *group) < 0 {
            return qjs::JS_EXCEPTION;
        }
        let global = qjs::JS_GetGlobalObject(ctx);
        let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
        let result = if atom == qjs::JS_ATOM_NULL {
            qjs::JS_EXCEPTION
        } else if still_ours(ctx, state, index, global, atom) {
            // A script put a kept accessor of ours back on the name after
            // its group was made: reading the name again would call us
            // without end.
            refuse(ctx, c"this accessor of a global name is no longer in use")
        } else if FORWARDING.get() >= MAX_FORWARDING {
            refuse(
                ctx,
                c"an accessor of a global name was reached through itself",
            )
        } else if magic & SETTER == 0 {
            FORWARDING.set(FORWARDING.get() + 1);
            let value = qjs::JS_GetProperty(ctx, global, atom);
            FORWARDING.set(FORWARDING.get() - 1);
            value
        } else {
            let value = if argc > 0 {
                qjs::JS_DupValue(ctx, *argv)
            } else {
                qjs::JS_UNDEFINED
            };
            // An assignment through an object that inherits from the
            // global object lands on that object, as it would had the
            // group been made at the start.
            let receiver = if qjs::JS_IsObject(this) { this } else { global };
            FORWARDING.set(FORWARDING.get() + 1);
            let assigned = qjs::JS_SetProperty(ctx, receiver, atom, value);
            FORWARDING.set(FORWARDING.get() - 1);
            if assigned < 0 {
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
/// -1 with an exception pending: a `TypeError` for a state the group cannot
/// be made into, or QuickJS's own when memory ran out. Then the group's
/// names are taken off the global object, so a script that catches the
/// error never goes on with half a group, and the error is made
/// uncatchable when QuickJS could make one at all (out of memory, it
/// throws `null`).
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
        let global = qjs::JS_GetGlobalObject(ctx);
        let members: Vec<(usize, &CStr)> = NAMES
            .iter()
            .enumerate()
            .filter(|(_, (_, g))| *g == group)
            .map(|(index, (name, _))| (index, *name))
            .collect();
        let mut before = Vec::with_capacity(members.len());
        // Every atom is made before anything changes, so that no deletion
        // below can fail for want of one.
        let mut atoms = Vec::with_capacity(members.len());
        let mut status = refusal(ctx, global, group);
        for &(index, name) in &members {
            if status < 0 {
                break;
            }
            let mut own = empty_descriptor();
            let atom = qjs::JS_NewAtom(ctx, name.as_ptr());
            if atom == qjs::JS_ATOM_NULL {
                status = -1;
                break;
            }
            atoms.push(atom);
            let found = qjs::JS_GetOwnProperty(ctx, &mut own, global, atom);
            if found < 0 {
                status = -1;
            } else if found > 0 && own.flags & qjs::JS_PROP_CONFIGURABLE as c_int == 0 {
                free_descriptor(ctx, &own);
                status = refuse_status(
                    ctx,
                    c"a script made a name of this group non-configurable before its first use",
                );
            } else if found == 0 {
                before.push(Before::Gone);
            } else if is_ours(ctx, state, index, &own) {
                free_descriptor(ctx, &own);
                before.push(Before::Ours);
            } else {
                before.push(Before::Script(own));
            }
        }
        if status == 0 {
            status = qjs::JS_DefinePropertyValueUint32(
                ctx,
                state,
                made_at,
                qjs::JS_TRUE,
                qjs::JS_PROP_C_W_E as c_int,
            )
            .min(0);
        }
        if status < 0 {
            for b in &before {
                if let Before::Script(own) = b {
                    free_descriptor(ctx, own);
                }
            }
            free_atoms(ctx, &atoms);
            qjs::JS_FreeValue(ctx, global);
            return -1;
        }
        // Every name is configurable and the global object extensible, so
        // these deletions and the intrinsic's definitions cannot fail but
        // for memory.
        for &atom in &atoms {
            qjs::JS_DeleteProperty(ctx, global, atom, 0);
        }
        status = GROUPS[group](ctx);
        if status == 0 && group == TYPED_ARRAYS {
            status = share_to_string(ctx, state, global);
        }
        if status == 0 && !all_defined(ctx, global, &atoms) {
            // Some intrinsics do not say when memory ran out part way.
            qjs::JS_ThrowOutOfMemory(ctx);
            status = -1;
        }
        // What a script had made of a name goes back first, so that a
        // failure to put one back (memory ran out) still takes the whole
        // group away below.
        for (&atom, before) in atoms.iter().zip(&before) {
            if let Before::Script(own) = before {
                let put_back = qjs::JS_DefineProperty(
                    ctx,
                    global,
                    atom,
                    own.value,
                    own.getter,
                    own.setter,
                    redefining(own.flags),
                );
                free_descriptor(ctx, own);
                if put_back < 0 && status == 0 {
                    // Not the built-in in place of the script's own.
                    qjs::JS_DeleteProperty(ctx, global, atom, 0);
                    status = -1;
                }
            }
        }
        for (&atom, before) in atoms.iter().zip(&before) {
            match before {
                Before::Ours if status == 0 => {}
                // Half a group is not left where a script can reach it.
                Before::Ours | Before::Gone => {
                    qjs::JS_DeleteProperty(ctx, global, atom, 0);
                }
                Before::Script(_) => {}
            }
        }
        free_atoms(ctx, &atoms);
        qjs::JS_FreeValue(ctx, global);
        if status < 0 {
            let error = qjs::JS_GetException(ctx);
            qjs::JS_SetUncatchableError(ctx, error);
            qjs::JS_Throw(ctx, error);
            return -1;
        }
        0
    }
}

/// Throws the `TypeError` for a state the group cannot be made into, if
/// the state is one: a non-extensible global object, or (for the typed
/// arrays) an `Array.prototype.toString` that is not its own plain value.
unsafe fn refusal(ctx: *mut qjs::JSContext, global: qjs::JSValue, group: usize) -> c_int {
    // SAFETY: as for `make`; nothing here runs script code.
    unsafe {
        match qjs::JS_IsExtensible(ctx, global) {
            0 => {
                return refuse_status(
                    ctx,
                    c"a script made the global object non-extensible before this group's first use",
                );
            }
            extensible if extensible < 0 => return -1,
            _ => {}
        }
        if group != TYPED_ARRAYS {
            return 0;
        }
        let array = qjs::JS_NewArray(ctx);
        if qjs::JS_IsException(array) {
            return -1;
        }
        let array_prototype = qjs::JS_GetPrototype(ctx, array);
        qjs::JS_FreeValue(ctx, array);
        if qjs::JS_IsException(array_prototype) {
            return -1;
        }
        let atom = qjs::JS_NewAtom(ctx, c"toString".as_ptr());
        let mut own = empty_descriptor();
        let found = if atom == qjs::JS_ATOM_NULL {
            -1
        } else {
            qjs::JS_GetOwnProperty(ctx, &mut own, array_prototype, atom)
        };
        qjs::JS_FreeAtom(ctx, atom);
        qjs::JS_FreeValue(ctx, array_prototype);
        if found < 0 {
            return -1;
        }
        let plain = found > 0 && own.flags & qjs::JS_PROP_GETSET as c_int == 0;
        free_descriptor(ctx, &own);
        if plain {
            0
        } else {
            refuse_status(
                ctx,
                c"a script made Array.prototype.toString a getter or deleted it before the typed arrays' first use",
            )
        }
    }
}

/// Gives the typed arrays' prototype the `toString` the context began
/// with, as an eager context has, whatever a script put on
/// `Array.prototype` since.
unsafe fn share_to_string(
    ctx: *mut qjs::JSContext,
    state: qjs::JSValue,
    global: qjs::JSValue,
) -> c_int {
    // SAFETY: as for `make`; every property read is an own value the
    // intrinsic just made, so no script code runs.
    unsafe {
        let original = qjs::JS_GetPropertyUint32(ctx, state, ORIGINAL_TO_STRING);
        let uint8 = qjs::JS_GetPropertyStr(ctx, global, c"Uint8Array".as_ptr());
        let base = qjs::JS_GetPrototype(ctx, uint8);
        let prototype = qjs::JS_GetPropertyStr(ctx, base, c"prototype".as_ptr());
        let status = if qjs::JS_IsException(original) || !qjs::JS_IsObject(prototype) {
            qjs::JS_FreeValue(ctx, original);
            -1
        } else {
            qjs::JS_DefinePropertyValueStr(
                ctx,
                prototype,
                c"toString".as_ptr(),
                original,
                (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE) as c_int,
            )
            .min(0)
        };
        qjs::JS_FreeValue(ctx, prototype);
        qjs::JS_FreeValue(ctx, base);
        qjs::JS_FreeValue(ctx, uint8);
        status
    }
}

/// Whether the intrinsic defined each of its names on `global`.
unsafe fn all_defined(
    ctx: *mut qjs::JSContext,
    global: qjs::JSValue,
    atoms: &[qjs::JSAtom],
) -> bool {
    // SAFETY: as for `make`; an own-property lookup runs no script code.
    atoms
        .iter()
        .all(|&atom| unsafe { qjs::JS_GetOwnProperty(ctx, std::ptr::null_mut(), global, atom) } > 0)
}

/// Whether `global`'s own property `atom` is still name `index`'s getter.
unsafe fn still_ours(
    ctx: *mut qjs::JSContext,
    state: qjs::JSValue,
    index: usize,
    global: qjs::JSValue,
    atom: qjs::JSAtom,
) -> bool {
    // SAFETY: as for `accessor`.
    unsafe {
        let mut own = empty_descriptor();
        let found = qjs::JS_GetOwnProperty(ctx, &mut own, global, atom);
        let ours = found > 0 && is_ours(ctx, state, index, &own);
        if found > 0 {
            free_descriptor(ctx, &own);
        }
        ours
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

unsafe fn free_atoms(ctx: *mut qjs::JSContext, atoms: &[qjs::JSAtom]) {
    // SAFETY: each atom was made by the caller and is freed once.
    unsafe {
        for &atom in atoms {
            qjs::JS_FreeAtom(ctx, atom);
        }
    }
}

/// Throws a `TypeError` saying why a lazy group cannot be made.
unsafe fn refuse(ctx: *mut qjs::JSContext, why: &CStr) -> qjs::JSValue {
    // SAFETY: the format takes exactly the one string given.
    unsafe { qjs::JS_ThrowTypeError(ctx, c"%s".as_ptr(), why.as_ptr()) }
}

unsafe fn refuse_status(ctx: *mut qjs::JSContext, why: &CStr) -> c_int {
    // SAFETY: as for `refuse`.
    unsafe { refuse(ctx, why) };
    -1
}

fn empty_descriptor() -> qjs::JSPropertyDescriptor {
    qjs::JSPropertyDescriptor {
        flags: 0,
        value: qjs::JS_UNDEFINED,
        getter: qjs::JS_UNDEFINED,
        setter: qjs::JS_UNDEFINED,
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
