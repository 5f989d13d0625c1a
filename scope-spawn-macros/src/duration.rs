//! The duration literal grammar of `#[scoped(timeout = "…")]`.
//!
//! A duration is an integer (digits, `_` allowed as a separator after the first
//! digit) immediately followed by a unit: `ns`, `us`, `ms`, `s`, `m` or `h`.
//! `"250ms"`, `"2s"`, `"1m"`, `"1_500ms"`. Zero is rejected: a handler with a
//! zero timeout would be cancelled before it starts.

/// The unit of a parsed duration literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Nanos,
    Micros,
    Millis,
    Secs,
}

/// A duration literal, normalised to the constructor `core::time::Duration` has
/// for its unit (minutes and hours become seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DurationLit {
    pub(crate) amount: u64,
    pub(crate) unit: Unit,
}

/// Why a duration literal was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not `<integer><unit>`.
    Syntax,
    /// The number does not fit in a `Duration`.
    Overflow,
    /// The duration is zero.
    Zero,
}

/// Parses `"250ms"`, `"2s"`, `"1m"`, `"1h"`, `"10us"`, `"5ns"`.
pub(crate) fn parse(text: &str) -> Result<DurationLit, DurationError> {
    let text = text.trim();
    let unit_start = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .ok_or(DurationError::Syntax)?;
    let (number, unit) = text.split_at(unit_start);
    if !number.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(DurationError::Syntax);
    }
    let (multiplier, unit) = match unit {
        "ns" => (1, Unit::Nanos),
        "us" | "µs" => (1, Unit::Micros),
        "ms" => (1, Unit::Millis),
        "s" => (1, Unit::Secs),
        "m" => (60, Unit::Secs),
        "h" => (60 * 60, Unit::Secs),
        _ => return Err(DurationError::Syntax),
    };
    let mut amount: u64 = 0;
    for digit in number.bytes().filter(|b| *b != b'_') {
        amount = amount
            .checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(digit - b'0')))
            .ok_or(DurationError::Overflow)?;
    }
    let amount = amount
        .checked_mul(multiplier)
        .ok_or(DurationError::Overflow)?;
    if amount == 0 {
        return Err(DurationError::Zero);
    }
    Ok(DurationLit { amount, unit })
}

#[cfg(test)]
mod tests {
    use super::{DurationError, DurationLit, Unit, parse};

    fn ok(amount: u64, unit: Unit) -> Result<DurationLit, DurationError> {
        Ok(DurationLit { amount, unit })
    }

    #[test]
    fn every_unit_is_accepted() {
        assert_eq!(parse("5ns"), ok(5, Unit::Nanos));
        assert_eq!(parse("10us"), ok(10, Unit::Micros));
        assert_eq!(parse("10µs"), ok(10, Unit::Micros));
        assert_eq!(parse("250ms"), ok(250, Unit::Millis));
        assert_eq!(parse("2s"), ok(2, Unit::Secs));
        assert_eq!(parse("1m"), ok(60, Unit::Secs));
        assert_eq!(parse("2h"), ok(7200, Unit::Secs));
    }

    #[test]
    fn underscores_separate_digits() {
        assert_eq!(parse("1_500ms"), ok(1500, Unit::Millis));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(parse(" 3s "), ok(3, Unit::Secs));
    }

    #[test]
    fn a_number_without_a_unit_is_rejected() {
        assert_eq!(parse("250"), Err(DurationError::Syntax));
    }

    #[test]
    fn a_unit_without_a_number_is_rejected() {
        assert_eq!(parse("ms"), Err(DurationError::Syntax));
        assert_eq!(parse("_5s"), Err(DurationError::Syntax));
        assert_eq!(parse(""), Err(DurationError::Syntax));
    }

    #[test]
    fn unknown_units_and_junk_are_rejected() {
        assert_eq!(parse("abc"), Err(DurationError::Syntax));
        assert_eq!(parse("2 s"), Err(DurationError::Syntax));
        assert_eq!(parse("2sec"), Err(DurationError::Syntax));
        assert_eq!(parse("1.5s"), Err(DurationError::Syntax));
        assert_eq!(parse("-1s"), Err(DurationError::Syntax));
        assert_eq!(parse("1m30s"), Err(DurationError::Syntax));
    }

    #[test]
    fn zero_is_rejected() {
        assert_eq!(parse("0s"), Err(DurationError::Zero));
        assert_eq!(parse("0ms"), Err(DurationError::Zero));
        assert_eq!(parse("0_0h"), Err(DurationError::Zero));
    }

    #[test]
    fn overflow_is_rejected() {
        assert_eq!(parse("18446744073709551615s"), ok(u64::MAX, Unit::Secs));
        assert_eq!(parse("18446744073709551616s"), Err(DurationError::Overflow));
        assert_eq!(parse("18446744073709551615m"), Err(DurationError::Overflow));
        assert_eq!(parse("5124095576030432h"), Err(DurationError::Overflow));
    }
}
