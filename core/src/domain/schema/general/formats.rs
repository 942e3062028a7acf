//! The `format`s tel asserts, each a check of a string; a format it does
//! not know is an annotation only, as the drafts allow.

use std::net::Ipv6Addr;

use super::pattern;

#[derive(Clone, Copy)]
pub(super) enum Format {
    DateTime,
    Date,
    Time,
    Duration,
    Email,
    IdnEmail,
    Hostname,
    IdnHostname,
    Ipv4,
    Ipv6,
    Uri,
    UriReference,
    Iri,
    IriReference,
    UriTemplate,
    Uuid,
    JsonPointer,
    RelativeJsonPointer,
    Regex,
}

impl Format {
    pub(super) fn named(name: &str) -> Option<Self> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "time" => Format::Time,
            "duration" => Format::Duration,
            "email" => Format::Email,
            "idn-email" => Format::IdnEmail,
            "hostname" => Format::Hostname,
            "idn-hostname" => Format::IdnHostname,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "uri" => Format::Uri,
            "uri-reference" => Format::UriReference,
            "iri" => Format::Iri,
            "iri-reference" => Format::IriReference,
            "uri-template" => Format::UriTemplate,
            "uuid" => Format::Uuid,
            "json-pointer" => Format::JsonPointer,
            "relative-json-pointer" => Format::RelativeJsonPointer,
            "regex" => Format::Regex,
            _ => return None,
        })
    }

    pub(super) fn holds(self, s: &str) -> bool {
        match self {
            Format::DateTime => date_time(s),
            Format::Date => date(s),
            Format::Time => time(s),
            Format::Duration => duration(s),
            Format::Email => email(s, false),
            Format::IdnEmail => email(s, true),
            Format::Hostname => hostname(s, false),
            Format::IdnHostname => hostname(s, true),
            Format::Ipv4 => ipv4(s),
            Format::Ipv6 => s.parse::<Ipv6Addr>().is_ok(),
            Format::Uri => uri(s, true, false),
            Format::UriReference => uri(s, false, false),
            Format::Iri => uri(s, true, true),
            Format::IriReference => uri(s, false, true),
            Format::UriTemplate => uri_template(s),
            Format::Uuid => uuid(s),
            Format::JsonPointer => json_pointer(s),
            Format::RelativeJsonPointer => relative_json_pointer(s),
            Format::Regex => pattern::is_valid(s),
        }
    }
}

/// `n` ASCII digits at the start of `s`, as a number, and the rest.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn date(s: &str) -> bool {
    parse_date(s).is_some_and(str::is_empty)
}

fn parse_date(s: &str) -> Option<&str> {
    let (year, s) = digits(s, 4)?;
    let s = s.strip_prefix('-')?;
    let (month, s) = digits(s, 2)?;
    let s = s.strip_prefix('-')?;
    let (day, s) = digits(s, 2)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then_some(s)
}

fn date_time(s: &str) -> bool {
    match parse_date(s) {
        Some(rest) => rest.strip_prefix(['T', 't']).is_some_and(time),
        None => false,
    }
}

/// RFC 3339's full-time: a time of day with its offset. A leap second is
/// only the last second of a UTC day.
fn time(s: &str) -> bool {
    let parsed = (|| {
        let (hour, s) = digits(s, 2)?;
        let s = s.strip_prefix(':')?;
        let (minute, s) = digits(s, 2)?;
        let s = s.strip_prefix(':')?;
        let (second, mut s) = digits(s, 2)?;
        if let Some(fraction) = s.strip_prefix('.') {
            let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return None;
            }
            s = &fraction[len..];
        }
        let offset = if s == "Z" || s == "z" {
            0
        } else {
            let sign: i64 = match s.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, rest) = digits(&s[1..], 2)?;
            let rest = rest.strip_prefix(':')?;
            let (om, rest) = digits(rest, 2)?;
            if !rest.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * i64::from(oh * 60 + om)
        };
        Some((hour, minute, second, offset))
    })();
    let Some((hour, minute, second, offset)) = parsed else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    if second == 60 {
        let utc = (i64::from(hour * 60 + minute) - offset).rem_euclid(24 * 60);
        return utc == 23 * 60 + 59;
    }
    true
}

/// ISO 8601 durations as RFC 3339's appendix A writes them.
fn duration(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let units = |part: &str, order: &str| -> Option<usize> {
        let mut seen = 0;
        let mut allowed = order;
        let mut number = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number += 1;
                continue;
            }
            let at = allowed.find(c)?;
            // Units run in order without a gap: `P1Y2D` leaves out months.
            if number == 0 || (seen > 0 && at != 0) {
                return None;
            }
            allowed = &allowed[at + 1..];
            number = 0;
            seen += 1;
        }
        (number == 0).then_some(seen)
    };
    if date.contains('W') {
        return time.is_none() && units(date, "W") == Some(1);
    }
    let Some(dates) = units(date, "YMD") else {
        return false;
    };
    match time {
        Some(time) => units(time, "HMS").is_some_and(|n| n > 0),
        None => dates > 0,
    }
}

fn email(s: &str, international: bool) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = if let Some(quoted) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        !quoted.contains(['"', '\\'])
    } else {
        !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || "!#$%&'*+-/=?^_`{|}~.".contains(c)
                    || (international && !c.is_ascii())
            })
    };
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => match literal.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => ipv4(literal),
        },
        None => hostname(domain, international),
    };
    local_ok && domain_ok
}

fn hostname(s: &str, international: bool) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let separators: &[char] = if international {
        &['.', '\u{3002}', '\u{FF0E}', '\u{FF61}']
    } else {
        &['.']
    };
    s.split(separators)
        .all(|label| {
            let ascii = label.is_ascii();
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                // `--` in the third and fourth places is reserved for
                // `xn--` (punycode) labels.
                && (label.get(2..4) != Some("--") || label.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("xn")))
                && (international || ascii)
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric()))
        })
}

fn ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.len() <= 3
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part.len() == 1 || !part.starts_with('0'))
                && part.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// RFC 3986 (or, `international`, RFC 3987): every character one a URI
/// may hold, each `%` an escape, and an absolute one with its scheme.
fn uri(s: &str, absolute: bool, international: bool) -> bool {
    let scheme_end = s.find(':').filter(|at| {
        let scheme = &s[..*at];
        !s[..*at].contains(['/', '?', '#'])
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if absolute && scheme_end.is_none() {
        return false;
    }
    let rest = scheme_end.map_or(s, |at| &s[at + 1..]);
    // Brackets only around an IP literal host.
    let mut tail = rest;
    if let Some(authority) = rest.strip_prefix("//") {
        let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
        tail = &authority[end..];
        if !authority_ok(&authority[..end]) {
            return false;
        }
    } else if scheme_end.is_none() {
        // A relative reference: its first segment has no colon.
        let first = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if first.contains(':') {
            return false;
        }
    }
    if tail.contains(['[', ']']) {
        return false;
    }
    let bytes = rest.as_bytes();
    let mut fragments = 0;
    for (at, c) in rest.char_indices() {
        let fine = match c {
            '%' => {
                bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            '#' => {
                fragments += 1;
                fragments == 1
            }
            c if c.is_ascii_alphanumeric() => true,
            c if "-._~!$&'()*+,;=:@/?[]".contains(c) => true,
            c => international && !c.is_ascii() && !c.is_control() && !c.is_whitespace(),
        };
        if !fine {
            return false;
        }
    }
    true
}

/// A URI's authority: one `@` at most, a host with no colon outside an
/// IP literal's brackets, and digits for a port.
fn authority_ok(authority: &str) -> bool {
    let (userinfo, host) = match authority.split_once('@') {
        Some((userinfo, host)) => (userinfo, host),
        None => ("", authority),
    };
    if host.contains('@') || userinfo.contains(['[', ']']) {
        return false;
    }
    let port = if let Some(literal) = host.strip_prefix('[') {
        let Some((inside, after)) = literal.split_once(']') else {
            return false;
        };
        let future = inside.starts_with(['v', 'V']) && inside.contains('.');
        if !future && inside.parse::<Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => "",
            _ => match after.strip_prefix(':') {
                Some(port) => port,
                None => return false,
            },
        }
    } else {
        match host.split_once(':') {
            Some((_, port)) => port,
            None => "",
        }
    };
    port.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 6570: literals, and expressions of an optional operator and a
/// comma-separated list of variables, each with a `:max-length` (1–9999,
/// no leading zero) or `*`.
fn uri_template(s: &str) -> bool {
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(expression) = rest.strip_prefix('{') {
            let Some(close) = expression.find('}') else {
                return false;
            };
            let body = &expression[..close];
            let list = body
                .strip_prefix(['+', '#', '.', '/', ';', '?', '&'])
                .unwrap_or(body);
            if !list.split(',').all(varspec) {
                return false;
            }
            rest = &expression[close + 1..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            if c == '}' || c.is_control() || c == ' ' || "\"<>\\^`|".contains(c) {
                return false;
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    true
}

fn varspec(spec: &str) -> bool {
    let (name, modifier) = match spec.split_once(':') {
        Some((name, length)) => {
            let fine = !length.is_empty()
                && length.len() <= 4
                && !length.starts_with('0')
                && length.bytes().all(|b| b.is_ascii_digit());
            (name, fine)
        }
        None => (spec.strip_suffix('*').unwrap_or(spec), true),
    };
    modifier
        && !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%')
}

fn uuid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(at, b)| match at {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn json_pointer(s: &str) -> bool {
    (s.is_empty() || s.starts_with('/'))
        && s.split('~')
            .skip(1)
            .all(|after| after.starts_with(['0', '1']))
}

fn relative_json_pointer(s: &str) -> bool {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || (len > 1 && s.starts_with('0')) {
        return false;
    }
    let rest = &s[len..];
    rest == "#" || json_pointer(rest)
}
