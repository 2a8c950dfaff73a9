//! Card details typed by the buyer. They live only as long as the request that carries them:
//! never stored, never logged. `Debug` shows the brand and last four digits only.

use std::fmt;

/// A card that passed the checks a form can make (Luhn, a future expiry, a CVC of the right
/// length). Whether it pays is the provider's decision.
pub struct Card {
    number: String,
    /// `visa`, `mastercard`, `amex`, `discover`, or `card` when the number says no more.
    pub brand: &'static str,
    /// The expiry month, 1–12.
    pub exp_month: u32,
    /// The expiry year, four digits (`27` was read as 2027).
    pub exp_year: u32,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Card {{ brand: {}, last4: {} }}",
            self.brand,
            self.last4()
        )
    }
}

/// The raw fields of the card form.
pub struct CardForm<'a> {
    /// The card number as typed, spaces and dashes included.
    pub number: &'a str,
    /// `MM/YY` or `MM/YYYY`, as typed.
    pub expiry: &'a str,
    /// The security code on the card.
    pub cvc: &'a str,
    /// The cardholder's name.
    pub name: &'a str,
}

/// One problem with one form field, keyed by the field's `name`; `message` is the key of
/// its text in the language catalogs (`card.number_invalid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardIssue {
    /// The form field's `name`: `number`, `expiry`, `cvc` or `name`.
    pub field: &'static str,
    /// The key of the problem's text in the language catalogs.
    pub message: &'static str,
}

impl Card {
    /// Parses the form; `year`/`month` are today's, for the expiry check.
    pub fn parse(form: &CardForm<'_>, year: u32, month: u32) -> Result<Card, Vec<CardIssue>> {
        let mut issues = Vec::new();
        let digits: String = form
            .number
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let brand = brand_of(&digits);
        if digits.is_empty() {
            issues.push(CardIssue {
                field: "number",
                message: "card.number_missing",
            });
        } else if !digits.chars().all(|c| c.is_ascii_digit())
            || !(12..=19).contains(&digits.len())
            || !luhn(&digits)
        {
            issues.push(CardIssue {
                field: "number",
                message: "card.number_invalid",
            });
        }
        let expiry = parse_expiry(form.expiry);
        match expiry {
            None => issues.push(CardIssue {
                field: "expiry",
                message: "card.expiry_invalid",
            }),
            Some((m, y)) if (y, m) < (year, month) => issues.push(CardIssue {
                field: "expiry",
                message: "card.expired",
            }),
            Some(_) => {}
        }
        let cvc = form.cvc.trim();
        let cvc_len = if brand == "amex" { 4..=4 } else { 3..=4 };
        if !cvc.chars().all(|c| c.is_ascii_digit()) || !cvc_len.contains(&cvc.len()) {
            issues.push(CardIssue {
                field: "cvc",
                message: "card.cvc_invalid",
            });
        }
        if form.name.trim().is_empty() {
            issues.push(CardIssue {
                field: "name",
                message: "card.name_missing",
            });
        }
        match (issues.is_empty(), expiry) {
            (true, Some((exp_month, exp_year))) => Ok(Card {
                number: digits,
                brand,
                exp_month,
                exp_year,
            }),
            _ => Err(issues),
        }
    }

    /// The number's last four digits, the only part that may be shown or stored.
    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }

    /// The full number, for handing to a provider and nothing else.
    pub fn number(&self) -> &str {
        &self.number
    }
}

fn brand_of(digits: &str) -> &'static str {
    let prefix2: u32 = digits.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let prefix4: u32 = digits.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    if digits.starts_with('4') {
        "visa"
    } else if (51..=55).contains(&prefix2) || (2221..=2720).contains(&prefix4) {
        "mastercard"
    } else if prefix2 == 34 || prefix2 == 37 {
        "amex"
    } else if prefix4 == 6011 || prefix2 == 65 {
        "discover"
    } else {
        "card"
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `MM/YY`, `MM / YY`, `MM/YYYY` or `MMYY`.
fn parse_expiry(s: &str) -> Option<(u32, u32)> {
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    let (m, y) = match digits.len() {
        4 => (&digits[..2], &digits[2..]),
        6 => (&digits[..2], &digits[2..]),
        3 => (&digits[..1], &digits[1..]),
        _ => return None,
    };
    let month: u32 = m.parse().ok()?;
    let mut year: u32 = y.parse().ok()?;
    if year < 100 {
        year += 2000;
    }
    (1..=12).contains(&month).then_some((month, year))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(number: &'a str, expiry: &'a str) -> CardForm<'a> {
        CardForm {
            number,
            expiry,
            cvc: "123",
            name: "A Buyer",
        }
    }

    #[test]
    fn accepts_test_cards_and_keeps_only_brand_and_last4_in_debug() {
        let card = Card::parse(&form("4242 4242 4242 4242", "12/34"), 2026, 11).expect("valid");
        assert_eq!(card.brand, "visa");
        assert_eq!(card.last4(), "4242");
        assert_eq!(format!("{card:?}"), "Card { brand: visa, last4: 4242 }");
        assert!(Card::parse(&form("4000 0027 6000 3184", "1134"), 2026, 11).is_ok());
    }

    #[test]
    fn refuses_bad_numbers_past_expiry_and_short_cvc() {
        let issues =
            Card::parse(&form("4242 4242 4242 4241", "10/26"), 2026, 11).expect_err("invalid");
        let fields: Vec<_> = issues.iter().map(|i| i.field).collect();
        assert_eq!(fields, ["number", "expiry"]);
        let issues = Card::parse(
            &CardForm {
                number: "",
                expiry: "13/30",
                cvc: "1",
                name: " ",
            },
            2026,
            11,
        )
        .expect_err("invalid");
        assert_eq!(issues.len(), 4);
        assert!(Card::parse(&form("4242424242424242", "11/26"), 2026, 11).is_ok());
    }
}
