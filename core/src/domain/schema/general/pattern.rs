//! `pattern`, `patternProperties` and the `regex` format: ECMA-262 regular
//! expressions, as JSON Schema writes them, run by `regex-lite` (already
//! linked for the AWS SDK's endpoint rules). Where ECMA-262 reads an escape
//! otherwise, it is rewritten: `\s` is Unicode white space and `.` stops at
//! every line terminator. Look-around and back-references have no
//! linear-time engine; a pattern with them does not compile, with a clear
//! error, rather than run slowly on a crafted input.

use regex_lite::Regex;

/// ECMA-262's white space and line terminators, for `\s`.
const SPACE: &str = r"\t\n\x0B\x0C\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF";
/// Every other character, for `\S`: ranges, so that it fits inside a
/// class too (regex-lite nests no classes, and its own `\S` is ASCII).
const NOT_SPACE: &str = r"\x00-\x08\x0E-\x1F\x21-\x{9F}\x{A1}-\x{167F}\x{1681}-\x{1FFF}\x{200B}-\x{2027}\x{202A}-\x{202E}\x{2030}-\x{205E}\x{2060}-\x{2FFF}\x{3001}-\x{FEFE}\x{FF00}-\x{10FFFF}";

pub(super) fn compile(pattern: &str) -> Result<Regex, String> {
    translated(pattern)
        .and_then(|translated| {
            Regex::new(&translated).map_err(|e| {
                let reason = e.to_string();
                reason.lines().last().unwrap_or_default().trim().to_owned()
            })
        })
        .map_err(|reason| {
            format!("pattern {pattern:?} is not a regular expression tel takes: {reason}")
        })
}

/// How large a compiled `regex`-format string may grow. The format is
/// checked on instances, which anyone submitting a task or a form writes:
/// `(?:a{1000}){1000}` would otherwise build up to regex-lite's 10 MB
/// default before it failed, for each string of an array of them.
const FORMAT_SIZE_LIMIT: usize = 256 * 1024;

/// Whether `pattern` is one `compile` takes (the `regex` format), within
/// `FORMAT_SIZE_LIMIT`.
pub(super) fn is_valid(pattern: &str) -> bool {
    translated(pattern).is_ok_and(|translated| {
        regex_lite::RegexBuilder::new(&translated)
            .size_limit(FORMAT_SIZE_LIMIT)
            .build()
            .is_ok()
    })
}

/// Groups ECMA-262 has: non-capturing, look-around (which regex-lite then
/// refuses) and named. Any other `(?` is another engine's syntax.
const GROUPS: [&str; 6] = ["(?:", "(?=", "(?!", "(?<=", "(?<!", "(?<"];

fn translated(pattern: &str) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('s') if in_class => out.push_str(SPACE),
                Some('s') => {
                    out.push('[');
                    out.push_str(SPACE);
                    out.push(']');
                }
                Some('S') if in_class => out.push_str(NOT_SPACE),
                Some('S') => {
                    out.push('[');
                    out.push_str(NOT_SPACE);
                    out.push(']');
                }
                Some('c') => match chars.next() {
                    Some(letter) if letter.is_ascii_alphabetic() => {
                        out.push_str(&format!("\\x{{{:X}}}", (letter as u32) % 32));
                    }
                    // Not a control escape: a literal `\c`, as ECMA-262's
                    // annex reads it.
                    other => {
                        out.push_str(r"\\c");
                        if let Some(other) = other {
                            push_literal(&mut out, other);
                        }
                    }
                },
                Some('/') => out.push('/'),
                Some('a') => return Err(r"`\a` is not an ECMA-262 escape".to_owned()),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '(' if !in_class && chars.as_str().starts_with('?') => {
                let here = &pattern[pattern.len() - chars.as_str().len() - 1..];
                if !GROUPS.iter().any(|group| here.starts_with(group)) || here.starts_with("(?P") {
                    return Err("a group ECMA-262 does not have (flags or `(?P`)".to_owned());
                }
                out.push('(');
            }
            // ECMA-262's empty classes: nothing, and any character.
            '[' if !in_class && chars.as_str().starts_with(']') => {
                chars.next();
                out.push_str(r"[^\x00-\x{10FFFF}]");
            }
            '[' if !in_class && chars.as_str().starts_with("^]") => {
                chars.next();
                chars.next();
                out.push_str(r"[\x00-\x{10FFFF}]");
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` or `^]` first in a class is a literal in both.
                if chars.as_str().starts_with('^') {
                    out.push(chars.next().unwrap_or('^'));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // regex-lite reads these as class set operators or nested
            // classes; in ECMA-262 they are plain characters in a class.
            '[' | '&' | '~' if in_class => push_literal(&mut out, c),
            '.' if !in_class => out.push_str(r"[^\n\r\u2028\u2029]"),
            _ => out.push(c),
        }
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecma_escapes_read_as_ecma_262_reads_them() {
        let matches = |pattern: &str, text: &str| compile(pattern).unwrap().is_match(text);
        assert!(matches(r"^\s$", "\u{00A0}"));
        assert!(matches(r"^[\s]$", "\u{FEFF}"));
        assert!(!matches(r"^\S$", "\u{2003}"));
        assert!(!matches(r"^[\S]$", "\u{00A0}"));
        assert!(matches(r"^[\Sx]$", "a"));
        assert!(matches(r"^[\s\S]$", "\u{00A0}") && matches(r"^[\s\S]$", "\u{10FFFF}"));
        assert!(matches(r"^[^\S]$", "\u{3000}") && !matches(r"^[^\S]$", "a"));
        assert!(matches(r"^\cJ$", "\n"));
        assert!(!matches(r"^.$", "\u{2028}"));
        assert!(matches(r"^a\/b$", "a/b"));
        assert!(matches(r"^[a&&b]$", "&"));
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d$", "\u{0660}"));
    }

    #[test]
    fn look_around_is_refused_with_the_pattern_named() {
        let error = compile("(?=a)b").unwrap_err();
        assert!(
            error.starts_with(r#"pattern "(?=a)b" is not a regular expression tel takes"#),
            "{error}"
        );
        assert!(!is_valid("^(abc]"));
        assert!(!is_valid("(?:a{1000}){1000}"));
        assert!(is_valid("^a{1000}$"));
    }
}
