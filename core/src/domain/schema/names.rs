//! Members' names as both validators compare them with an instance's keys:
//! by length and eight bytes loaded at once, never by a call to compare
//! memory. Task inputs are small objects with short names; a call per
//! comparison was a tenth of a check.

/// A name's length and eight of its bytes: told apart, or matched whole up
/// to eight bytes, by two comparisons.
#[derive(Clone, Copy, PartialEq)]
pub(super) struct Key {
    len: usize,
    head: u64,
}

impl Key {
    #[inline(always)]
    pub(super) fn of(text: &str) -> Self {
        Self {
            len: text.len(),
            head: head(text),
        }
    }
}

/// A member's name, with its key.
pub(super) struct Name {
    key: Key,
    text: Box<str>,
}

impl Name {
    pub(super) fn of(text: &str) -> Self {
        Self {
            key: Key::of(text),
            text: text.into(),
        }
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is `key`, whose key (`probe`) the caller read once for
    /// several names. Only a name past eight bytes is compared further.
    #[inline(always)]
    pub(super) fn is_probed(&self, probe: Key, key: &str) -> bool {
        self.key == probe && (key.len() <= 8 || self.text.as_bytes()[8..] == key.as_bytes()[8..])
    }

    /// Whether this is `key`: lengths first, so a key's bytes are read only
    /// for a name as long as it.
    #[inline(always)]
    pub(super) fn is(&self, key: &str) -> bool {
        self.key.len == key.len() && self.is_probed(Key::of(key), key)
    }
}

/// Eight bytes that, with the length, tell a name of up to eight bytes
/// apart from any other: the first eight; or the first and last four, which
/// overlap below eight; or the first, middle and last byte below four.
#[inline(always)]
fn head(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let n = bytes.len();
    if let Some(first) = bytes.first_chunk::<8>() {
        u64::from_le_bytes(*first)
    } else if n >= 4 {
        // One load each: four bytes gathered one by one were four.
        let word = |at: usize| {
            bytes[at..]
                .first_chunk::<4>()
                .map_or(0, |word| u64::from(u32::from_le_bytes(*word)))
        };
        word(0) | word(n - 4) << 32
    } else if n > 0 {
        u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16
    } else {
        0
    }
}
