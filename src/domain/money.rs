//! US dollar amounts as integer cents. Amounts arrive as JSON numbers and are read from the
//! number's own text, never through a float, so `19.99` is exactly 1999 cents and `1.005` is
//! refused rather than silently rounded.

use std::fmt;

/// A positive amount in cents, at most the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(i64);

/// Why an amount was refused; each maps to one message for the buyer-facing API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    /// Not a JSON number (a string, `null`, `1.`, …).
    NotANumber,
    /// Zero or negative.
    NotPositive,
    /// Finer than a cent (`1.005`).
    TooPrecise,
    /// Above the largest amount accepted.
    TooLarge {
        /// That largest amount, in cents.
        max_cents: i64,
    },
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountError::NotANumber => f.write_str("must be a number"),
            AmountError::NotPositive => f.write_str("must be greater than 0"),
            AmountError::TooPrecise => f.write_str("must have at most 2 decimal places"),
            AmountError::TooLarge { max_cents } => {
                write!(f, "must be at most {}", format_plain(*max_cents))
            }
        }
    }
}

/// The largest number of significant cents digits we accept before calling a value too large;
/// keeps the arithmetic far from overflow whatever exponent the JSON carries.
const MAX_DIGITS: usize = 15;

impl Amount {
    /// Parses the text of a JSON value. Only a JSON number is accepted (`116`, `116.5`, `1e2`).
    pub fn parse_json(raw: &str, max_cents: i64) -> Result<Amount, AmountError> {
        let cents = parse_decimal_cents(raw.trim()).map_err(|e| match e {
            AmountError::TooLarge { .. } => AmountError::TooLarge { max_cents },
            other => other,
        })?;
        if cents > max_cents {
            return Err(AmountError::TooLarge { max_cents });
        }
        Ok(Amount(cents))
    }

    /// Wraps cents read back from our own database.
    pub fn from_cents(cents: i64) -> Amount {
        Amount(cents)
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    /// The amount as a JSON number in dollars: `116`, `116.5`, `19.99`.
    pub fn to_json(self) -> serde_json::Value {
        cents_to_json(self.0)
    }

    /// `$1,116.00`.
    pub fn display_usd(self) -> String {
        format!("${}", format_grouped(self.0))
    }
}

/// Cents as a JSON number of dollars. Whole dollars are written as integers; otherwise the
/// shortest float that reads back as the same decimal, which for cents is that decimal.
pub fn cents_to_json(cents: i64) -> serde_json::Value {
    if cents % 100 == 0 {
        serde_json::Value::from(cents / 100)
    } else {
        serde_json::Number::from_f64(cents as f64 / 100.0)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// `10000` or `10000.5`-style plain text of cents, for messages.
pub fn format_plain(cents: i64) -> String {
    if cents % 100 == 0 {
        format!("{}", cents / 100)
    } else {
        format!("{}.{:02}", cents / 100, cents % 100)
    }
}

fn format_grouped(cents: i64) -> String {
    let dollars = (cents / 100).to_string();
    let mut grouped = String::with_capacity(dollars.len() + dollars.len() / 3);
    for (i, ch) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{grouped}.{:02}", cents % 100)
}

/// Exact decimal parsing of JSON number grammar into cents.
fn parse_decimal_cents(s: &str) -> Result<i64, AmountError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &s[int_start..i];
    if int_digits.is_empty() {
        return Err(AmountError::NotANumber);
    }
    let mut frac_digits = "";
    if i < bytes.len() && bytes[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &s[start..i];
        if frac_digits.is_empty() {
            return Err(AmountError::NotANumber);
        }
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        let exp_negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let exp_text = &s[start..i];
        if exp_text.is_empty() {
            return Err(AmountError::NotANumber);
        }
        // An exponent this long is absurd either way; clamp it so the arithmetic stays small.
        let magnitude: i64 = if exp_text.len() > 6 {
            1_000_000
        } else {
            exp_text.parse().map_err(|_| AmountError::NotANumber)?
        };
        exponent = if exp_negative { -magnitude } else { magnitude };
    }
    if i != bytes.len() {
        return Err(AmountError::NotANumber);
    }

    // value = digits × 10^(exponent - frac_len); cents = digits × 10^(shift)
    let digits: String = format!("{int_digits}{frac_digits}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Err(AmountError::NotPositive);
    }
    if negative {
        return Err(AmountError::NotPositive);
    }
    let mut shift = exponent - frac_digits.len() as i64 + 2;
    let mut significant = digits;
    if shift < 0 {
        let trailing_zeros = significant.len() - significant.trim_end_matches('0').len();
        if (trailing_zeros as i64) < -shift {
            return Err(AmountError::TooPrecise);
        }
        significant = &significant[..significant.len() - (-shift) as usize];
        shift = 0;
    }
    if significant.len() as i64 + shift > MAX_DIGITS as i64 {
        return Err(AmountError::TooLarge {
            max_cents: i64::MAX,
        });
    }
    let mut cents: i64 = significant.parse().map_err(|_| AmountError::TooLarge {
        max_cents: i64::MAX,
    })?;
    for _ in 0..shift {
        cents *= 10;
    }
    Ok(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: i64 = 1_000_000;

    fn cents(raw: &str) -> Result<i64, AmountError> {
        Amount::parse_json(raw, MAX).map(Amount::cents)
    }

    #[test]
    fn reads_amounts_exactly_as_written() {
        assert_eq!(cents("116"), Ok(11600));
        assert_eq!(cents("116.5"), Ok(11650));
        assert_eq!(cents("19.99"), Ok(1999));
        assert_eq!(cents("0.01"), Ok(1));
        assert_eq!(cents("1e2"), Ok(10000));
        assert_eq!(cents("1E+2"), Ok(10000));
        assert_eq!(cents("1999e-2"), Ok(1999));
        assert_eq!(cents("116.500"), Ok(11650));
        assert_eq!(cents("10000"), Ok(1_000_000));
    }

    #[test]
    fn refuses_zero_negative_and_too_precise_amounts() {
        assert_eq!(cents("0"), Err(AmountError::NotPositive));
        assert_eq!(cents("0.00"), Err(AmountError::NotPositive));
        assert_eq!(cents("-5"), Err(AmountError::NotPositive));
        assert_eq!(cents("0.001"), Err(AmountError::TooPrecise));
        assert_eq!(cents("1.005"), Err(AmountError::TooPrecise));
        assert_eq!(cents("1e-3"), Err(AmountError::TooPrecise));
    }

    #[test]
    fn refuses_too_large_and_non_numeric_amounts() {
        assert_eq!(
            cents("10000.01"),
            Err(AmountError::TooLarge { max_cents: MAX })
        );
        assert!(matches!(cents("1e400"), Err(AmountError::TooLarge { .. })));
        assert!(matches!(
            cents("1e999999999"),
            Err(AmountError::TooLarge { .. })
        ));
        assert_eq!(cents("\"116\""), Err(AmountError::NotANumber));
        assert_eq!(cents("null"), Err(AmountError::NotANumber));
        assert_eq!(cents("true"), Err(AmountError::NotANumber));
        assert_eq!(cents("1."), Err(AmountError::NotANumber));
        assert_eq!(cents("[1]"), Err(AmountError::NotANumber));
    }

    #[test]
    fn writes_amounts_back_as_json_numbers() {
        assert_eq!(Amount::from_cents(11600).to_json().to_string(), "116");
        assert_eq!(Amount::from_cents(11650).to_json().to_string(), "116.5");
        assert_eq!(Amount::from_cents(1999).to_json().to_string(), "19.99");
        assert_eq!(Amount::from_cents(1).to_json().to_string(), "0.01");
        assert_eq!(Amount::from_cents(92777).to_json().to_string(), "927.77");
    }

    #[test]
    fn displays_dollars_with_grouping() {
        assert_eq!(Amount::from_cents(11600).display_usd(), "$116.00");
        assert_eq!(Amount::from_cents(123456789).display_usd(), "$1,234,567.89");
        assert_eq!(Amount::from_cents(5).display_usd(), "$0.05");
    }
}
