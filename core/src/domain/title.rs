//! A task's title: the definition's `title` template over the task's input
//! and context ("Approve {employee}'s expense of {amount} EUR"), so a person
//! sees what a task is about, not only which definition it is. Rendered
//! when shown (nothing is stored, so a task write costs the same).
//!
//! A placeholder names a field by a dotted path: `{employee}` or
//! `{input.employee}` in the input, `{context.region}` in the context,
//! `{items.0.sku}` into arrays. `{{` and `}}` are literal braces. A missing
//! or structured value shows as `?`; the rendered title is cut at
//! `MAX_TITLE_CHARS`.

use serde_json::Value;

/// The most characters a template, and a rendered title, may have.
pub const MAX_TITLE_CHARS: usize = 200;

/// One piece of a template: text as written, or a placeholder's path.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Field(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            out.push(Piece::Brace('{'));
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            out.push(Piece::Brace('}'));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = after
                .find('}')
                .ok_or("a `{` without its `}` (write `{{` for a brace)")?;
            let path = after[..end].trim();
            if !is_field_path(path) {
                return Err(format!(
                    "`{{{path}}}` is not a field path (letters, digits, `_`, `-`, separated by dots)"
                ));
            }
            out.push(Piece::Field(path));
            rest = &after[end + 1..];
        } else if rest.starts_with('}') {
            return Err("a `}` without its `{` (write `}}` for a brace)".into());
        } else {
            let end = rest.find(['{', '}']).unwrap_or(rest.len());
            out.push(Piece::Text(&rest[..end]));
            rest = &rest[end..];
        }
    }
    Ok(out)
}

/// Why `template` is not a title template, if it is not.
pub fn check(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if template.chars().count() > MAX_TITLE_CHARS {
        return Err(format!("must be at most {MAX_TITLE_CHARS} characters"));
    }
    pieces(template).map(|_| ())
}

/// The title `template` gives for a task with `input` and `context`.
pub fn render(template: &str, input: &Value, context: &Value) -> String {
    let Ok(pieces) = pieces(template) else {
        return template.to_owned();
    };
    let mut title = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => title.push_str(text),
            Piece::Brace(brace) => title.push(brace),
            Piece::Field(path) => title.push_str(&field(path, input, context)),
        }
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        title = title.chars().take(MAX_TITLE_CHARS - 1).collect();
        title.push('…');
    }
    title
}

/// Whether `path` names a field: segments of letters, digits, `_` and `-`,
/// separated by dots.
pub fn is_field_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// The value at a dotted `path`: in the input, or in the context when it
/// starts with `context.` (`input.` may be written too).
pub fn lookup<'a>(path: &str, input: &'a Value, context: &'a Value) -> Option<&'a Value> {
    let (mut at, rest) = match path.split_once('.') {
        Some(("input", rest)) => (input, rest),
        Some(("context", rest)) => (context, rest),
        _ => (input, path),
    };
    for segment in rest.split('.') {
        at = match at {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }?;
    }
    Some(at)
}

fn field(path: &str, input: &Value, context: &Value) -> String {
    match lookup(path, input, context) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_of_the_input_and_the_context_fill_the_template() {
        let input = json!({ "employee": "Ann", "amount": 1250.5, "items": [{ "sku": "BOOK-1" }], "ok": true });
        let context = json!({ "region": "eu" });
        let title = |t: &str| render(t, &input, &context);
        assert_eq!(
            title("Approve {employee}'s expense of {amount} EUR"),
            "Approve Ann's expense of 1250.5 EUR"
        );
        assert_eq!(
            title("{input.items.0.sku} in {context.region}"),
            "BOOK-1 in eu"
        );
        assert_eq!(title("{ ok } {{literal}}"), "true {literal}");
        // Missing, null or structured: a question mark, never the structure.
        assert_eq!(title("{missing} {items} {context.none}"), "? ? ?");
        let long = "x".repeat(150);
        let cut = render("{a}{a}", &json!({ "a": long }), &Value::Null);
        assert_eq!(cut.chars().count(), MAX_TITLE_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_template_that_cannot_render_is_refused_with_why() {
        assert!(check("Approve {employee}").is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("Approve {employee", "without its `}`"),
            ("Approve }", "without its `{`"),
            ("{a b}", "not a field path"),
            ("{}", "not a field path"),
            ("{a..b}", "not a field path"),
        ] {
            let message = check(bad).unwrap_err();
            assert!(message.contains(why), "{bad}: {message}");
        }
        assert!(check(&"x".repeat(MAX_TITLE_CHARS + 1)).is_err());
    }
}
