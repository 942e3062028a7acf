//! A task's input and description handed to a script as deeply frozen
//! JavaScript values, made straight from the JSON value: printing it as
//! text for `JSON.parse`, then walking it in script to freeze each object,
//! was a tenth of an attempt. The values are what `JSON.parse` would make
//! (own, enumerable, writable data properties; a `__proto__` key is a
//! property, never the prototype), then frozen.

use rquickjs::object::Property;
use rquickjs::{Array, Ctx, Object, qjs};
use serde_json::Value;

/// Deeper than any JSON value tel reads (serde_json stops at 128 levels):
/// the walk below recurses once per level.
const MAX_DEPTH: usize = 512;

pub(super) fn frozen<'js>(ctx: &Ctx<'js>, value: &Value) -> rquickjs::Result<rquickjs::Value<'js>> {
    made(ctx, value, 0)
}

fn made<'js>(
    ctx: &Ctx<'js>,
    value: &Value,
    depth: usize,
) -> rquickjs::Result<rquickjs::Value<'js>> {
    if depth > MAX_DEPTH {
        return Err(rquickjs::Error::new_from_js_message(
            "a JSON value",
            "a frozen script value",
            format!("the value nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(match value {
        Value::Null => rquickjs::Value::new_null(ctx.clone()),
        Value::Bool(b) => rquickjs::Value::new_bool(ctx.clone(), *b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(int) => rquickjs::Value::new_int(ctx.clone(), int),
            // A float keeps what an int would lose: `-0`.
            None => rquickjs::Value::new_float(ctx.clone(), n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => rquickjs::String::from_str(ctx.clone(), text)?.into_value(),
        Value::Array(items) => {
            let array = Array::new(ctx.clone())?;
            for (index, item) in items.iter().enumerate() {
                array.set(index, made(ctx, item, depth + 1)?)?;
            }
            freeze(ctx, array.into_value())?
        }
        Value::Object(members) => {
            let object = Object::new(ctx.clone())?;
            for (key, member) in members {
                // Defined, not assigned: `__proto__` stays a key.
                let property = Property::from(made(ctx, member, depth + 1)?)
                    .writable()
                    .enumerable()
                    .configurable();
                object.prop(key.as_str(), property)?;
            }
            freeze(ctx, object.into_value())?
        }
    })
}

/// `Object.freeze` of a plain object or array of ours.
pub(super) fn freeze<'js>(
    ctx: &Ctx<'js>,
    value: rquickjs::Value<'js>,
) -> rquickjs::Result<rquickjs::Value<'js>> {
    // SAFETY: the value is a plain object or array of ours (no proxy, no
    // accessors), alive in this context; freezing it runs no script code.
    if unsafe { qjs::JS_FreezeObject(ctx.as_raw().as_ptr(), value.as_raw()) } < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(value)
}
