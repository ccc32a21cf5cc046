// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Times as the stitch stores them.

/// A time in microseconds since 1970 (UTC), or NULL, in 8 bytes rather than an
/// `Option`'s 16. NULL is the largest value, so that it sorts after every time as `NULLS
/// LAST` does: SQL's `min`, which skips NULLs, is the plain minimum, and pb's "NULL if
/// either time is NULL, else the later" is the plain maximum. Reading refuses the one
/// input time that would collide with it ([`Time::from_micros`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Time(i64);

impl Time {
    /// No time.
    pub(crate) const NULL: Time = Time(i64::MAX);

    /// The time `micros` after 1970, or NULL; `None` for the one value that NULL takes.
    pub(crate) fn from_micros(micros: Option<i64>) -> Option<Self> {
        match micros {
            None => Some(Self::NULL),
            Some(i64::MAX) => None,
            Some(micros) => Some(Time(micros)),
        }
    }

    /// The time as SQL sees it.
    pub(crate) fn micros(self) -> Option<i64> {
        (self != Self::NULL).then_some(self.0)
    }

    /// The stored integer, for packing into wider keys; [`Time::from_bits`] reads it back.
    pub(crate) fn to_bits(self) -> i64 {
        self.0
    }

    /// A time from [`Time::to_bits`].
    pub(crate) fn from_bits(bits: i64) -> Self {
        Time(bits)
    }
}

impl Default for Time {
    fn default() -> Self {
        Self::NULL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_sorts_last_and_round_trips() {
        let t = |m| Time::from_micros(Some(m)).unwrap();
        assert!(t(i64::MIN) < t(0));
        assert!(t(i64::MAX - 1) < Time::NULL);
        assert_eq!(Time::from_micros(None), Some(Time::NULL));
        assert_eq!(Time::from_micros(Some(i64::MAX)), None);
        assert_eq!(t(5).micros(), Some(5));
        assert_eq!(Time::NULL.micros(), None);
        assert_eq!(t(3).max(Time::NULL), Time::NULL);
        assert_eq!(t(3).min(Time::NULL), t(3));
        assert_eq!(Time::from_bits(t(-7).to_bits()), t(-7));
    }
}
