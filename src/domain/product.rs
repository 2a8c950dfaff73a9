//! The product or plan name shown on the checkout page.

/// 1–120 characters after trimming, without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    /// Trims `raw` and checks it; the error says what is wrong, for the field's message.
    pub fn parse(raw: &str) -> Result<ProductName, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty");
        }
        if s.chars().count() > 120 {
            return Err("must be at most 120 characters");
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(ProductName(s.to_owned()))
    }

    /// The name, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds_the_name() {
        assert_eq!(
            ProductName::parse(" Creator plan ").map(|p| p.0),
            Ok("Creator plan".into())
        );
        assert!(ProductName::parse("   ").is_err());
        assert!(ProductName::parse(&"é".repeat(120)).is_ok());
        assert!(ProductName::parse(&"é".repeat(121)).is_err());
        assert!(ProductName::parse("a\u{0}b").is_err());
        assert!(ProductName::parse("line\nbreak").is_err());
    }
}
