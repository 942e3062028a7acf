//! The keywords that assert something of the instance itself: its type,
//! value, numbers, strings, and the counts and names of its items and
//! members. None has a subschema.

use serde_json::Value;

use super::{Compiled, Rule, Site, strings, whole};
use crate::domain::schema::general::draft::Draft;
use crate::domain::schema::general::formats::Format;
use crate::domain::schema::general::pattern;
use crate::domain::schema::values::{Bound, Kind};

pub(super) fn compile(site: &Site) -> Result<Option<Compiled>, String> {
    let draft = site.draft();
    let bad = || site.malformed();
    let rule = match (site.keyword, site.value) {
        ("type", Value::String(name)) => Rule::Type(vec![Kind::named(name).ok_or_else(bad)?]),
        ("type", Value::Array(names)) => {
            let mut kinds = names
                .iter()
                .map(|name| name.as_str().and_then(Kind::named).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()?;
            // Named in a message in one order, whatever the schema's.
            kinds.sort_by_key(|kind| Kind::ORDER.iter().position(|k| k.name() == kind.name()));
            Rule::Type(kinds)
        }
        ("enum", Value::Array(options)) => Rule::Enum(options.clone()),
        ("const", value) if draft >= Draft::Draft6 => Rule::Const(value.clone()),
        ("multipleOf", Value::Number(n)) if n.as_f64().is_some_and(|f| f > 0.0) => {
            Rule::MultipleOf(n.clone())
        }
        ("minimum" | "maximum", Value::Number(n)) => {
            // Draft 4's `exclusiveMinimum: true` makes `minimum` exclusive.
            let minimum = site.keyword == "minimum";
            let flag = if minimum {
                "exclusiveMinimum"
            } else {
                "exclusiveMaximum"
            };
            let exclusive =
                draft == Draft::Draft4 && site.map.get(flag) == Some(&Value::Bool(true));
            let bound = match (minimum, exclusive) {
                (true, false) => Bound::Minimum,
                (true, true) => Bound::ExclusiveMinimum,
                (false, false) => Bound::Maximum,
                (false, true) => Bound::ExclusiveMaximum,
            };
            Rule::Bound(bound, n.clone())
        }
        ("exclusiveMinimum", Value::Number(n)) if draft >= Draft::Draft6 => {
            Rule::Bound(Bound::ExclusiveMinimum, n.clone())
        }
        ("exclusiveMaximum", Value::Number(n)) if draft >= Draft::Draft6 => {
            Rule::Bound(Bound::ExclusiveMaximum, n.clone())
        }
        ("minLength", n) => Rule::Length(true, whole(n).ok_or_else(bad)?),
        ("maxLength", n) => Rule::Length(false, whole(n).ok_or_else(bad)?),
        ("minItems", n) => Rule::Count(true, whole(n).ok_or_else(bad)?),
        ("maxItems", n) => Rule::Count(false, whole(n).ok_or_else(bad)?),
        ("minProperties", n) => Rule::Size(true, whole(n).ok_or_else(bad)?),
        ("maxProperties", n) => Rule::Size(false, whole(n).ok_or_else(bad)?),
        ("uniqueItems", Value::Bool(true)) => Rule::Unique,
        ("uniqueItems", Value::Bool(false)) => return Ok(Some(Compiled::Nothing)),
        ("contentEncoding", Value::String(encoding))
            if draft_6_or_7(draft) && encoding == "base64" =>
        {
            Rule::Base64
        }
        ("contentMediaType", Value::String(media))
            if draft_6_or_7(draft) && media == "application/json" =>
        {
            let base64 = site.map.get("contentEncoding") == Some(&Value::String("base64".into()));
            Rule::Json { base64 }
        }
        ("pattern", Value::String(text)) => Rule::Pattern(pattern::compile(text)?, text.clone()),
        ("format", Value::String(name)) => match Format::named(name) {
            Some(format) => Rule::Format(format, name.clone()),
            None => return Ok(Some(Compiled::Nothing)),
        },
        ("required", Value::Array(names)) => Rule::Required(strings(names).ok_or_else(bad)?),
        ("dependentRequired", Value::Object(entries)) if draft >= Draft::Draft201909 => {
            Rule::DependentRequired(
                entries
                    .iter()
                    .map(|(name, names)| {
                        let names = names.as_array().and_then(|n| strings(n)).ok_or_else(bad)?;
                        Ok((name.clone(), names))
                    })
                    .collect::<Result<_, String>>()?,
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(Compiled::Rule(rule)))
}

/// Drafts 6 and 7 assert `contentEncoding` and `contentMediaType` (as the
/// `jsonschema` crate did); 2019-09 made them annotations.
fn draft_6_or_7(draft: Draft) -> bool {
    matches!(draft, Draft::Draft6 | Draft::Draft7)
}
