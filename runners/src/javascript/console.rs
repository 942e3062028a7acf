//! The sandbox's `console`: each of its methods writes one line to the
//! attempt's log, its arguments shown as text (strings as they are, other
//! values as JSON, or as `String(value)` when JSON cannot show them) and
//! joined by spaces. Made with the engine's API rather than by a script of
//! ours: loading and running one was a tenth of an attempt.

use std::sync::{Arc, Mutex};

use rquickjs::function::Rest;
use rquickjs::{Coerced, Ctx, Function, Object, qjs};

use super::frozen::freeze;

const MAX_LOG_LINES: usize = 200;
const MAX_LOG_LINE_CHARS: usize = 2_000;
const METHODS: [&str; 5] = ["log", "info", "warn", "error", "debug"];

#[derive(Default)]
pub(super) struct LogBuffer {
    lines: Vec<String>,
    dropped: usize,
}

impl LogBuffer {
    fn push(&mut self, line: String) {
        if self.is_full() {
            self.dropped += 1;
            return;
        }
        self.lines
            .push(line.chars().take(MAX_LOG_LINE_CHARS).collect());
    }

    fn is_full(&self) -> bool {
        self.lines.len() >= MAX_LOG_LINES
    }

    pub(super) fn take(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(format!("... {} more line(s) dropped", self.dropped));
        }
        lines
    }
}

/// Puts a frozen `console` on the global object whose methods write to
/// `logs`.
pub(super) fn install<'js>(ctx: &Ctx<'js>, logs: Arc<Mutex<LogBuffer>>) -> rquickjs::Result<()> {
    let line = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, args: Rest<rquickjs::Value<'js>>| -> rquickjs::Result<()> {
            // Each argument is shown (its toJSON/toString run, as the
            // prelude's did), but only what the line can hold is copied out
            // of the heap: the copy is not under the heap limit nor the
            // deadline.
            let mut room = match logs.lock() {
                Ok(buffer) if !buffer.is_full() => MAX_LOG_LINE_CHARS,
                _ => 0,
            };
            let mut line = String::new();
            for (index, arg) in args.0.into_iter().enumerate() {
                let shown = show(&ctx, arg)?;
                if index > 0 && room > 0 {
                    line.push(' ');
                    room -= 1;
                }
                if let Some(text) = shown.filter(|_| room > 0) {
                    let text = text.to_string()?;
                    let taken = text
                        .char_indices()
                        .nth(room)
                        .map_or(text.len(), |(at, _)| at);
                    room -= text[..taken].chars().count();
                    line.push_str(&text[..taken]);
                }
            }
            if let Ok(mut buffer) = logs.lock() {
                buffer.push(line);
            }
            Ok(())
        },
    )?;
    let console = Object::new(ctx.clone())?;
    for method in METHODS {
        console.set(method, line.clone())?;
    }
    ctx.globals()
        .set("console", freeze(ctx, console.into_value())?)
}

/// One argument as text: what `JSON.stringify` makes of it (nothing for
/// what JSON cannot hold, as `undefined` is nothing in a join), else
/// `String(value)` (a cycle, a BigInt).
fn show<'js>(
    ctx: &Ctx<'js>,
    value: rquickjs::Value<'js>,
) -> rquickjs::Result<Option<rquickjs::String<'js>>> {
    if let Some(text) = value.as_string() {
        return Ok(Some(text.clone()));
    }
    match ctx.json_stringify(value.clone()) {
        Ok(text) => Ok(text),
        Err(rquickjs::Error::Exception) => {
            let thrown = ctx.catch();
            // `catch {}` never sees an uncatchable error (the deadline's
            // interrupt, a lazy group that failed): it goes on up.
            // SAFETY: `thrown` is a live value of this context.
            if unsafe { qjs::JS_IsUncatchableError(thrown.as_raw()) } {
                return Err(ctx.throw(thrown));
            }
            Ok(Some(value.get::<Coerced<rquickjs::String<'js>>>()?.0))
        }
        Err(other) => Err(other),
    }
}
