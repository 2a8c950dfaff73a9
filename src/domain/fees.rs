//! Fees, in integer cents. The buyer fee is rounded up to the cent (the buyer never pays less
//! than the rate says, and the published examples round up: 116 × 3.2 % = 3.712 → 3.72); the
//! gateway fee is rounded half-up. Rates are held as parts per million so that the arithmetic
//! stays in integers.

use serde::Serialize;

use super::money::cents_to_json;

/// A rate as parts per million: 3.2 % is 32 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(i64);

impl Rate {
    /// From a fraction such as `0.032`; precise to a millionth.
    pub fn from_fraction(fraction: f64) -> Rate {
        Rate((fraction * 1_000_000.0).round() as i64)
    }

    /// The rate in parts per million.
    pub fn ppm(self) -> i64 {
        self.0
    }
}

/// What a payment costs and yields, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// What the buyer pays on top of the price, rounded up.
    pub buyer_fee: i64,
    /// What the gateway keeps of the price, rounded half-up.
    pub gateway_fee: i64,
    /// What the merchant receives: the price less the gateway fee.
    pub merchant_net: i64,
    /// What the buyer pays: the price plus the buyer fee.
    pub total: i64,
}

impl Fees {
    /// The fees of a price of `amount_cents` at these rates.
    pub fn compute(amount_cents: i64, buyer_rate: Rate, gateway_rate: Rate) -> Fees {
        const MILLION: i128 = 1_000_000;
        let amount = i128::from(amount_cents);
        let buyer = amount * i128::from(buyer_rate.ppm());
        let buyer_fee = ((buyer + MILLION - 1) / MILLION) as i64;
        let gateway = amount * i128::from(gateway_rate.ppm());
        let gateway_fee = ((gateway + MILLION / 2) / MILLION) as i64;
        Fees {
            buyer_fee,
            gateway_fee,
            merchant_net: amount_cents - gateway_fee,
            total: amount_cents + buyer_fee,
        }
    }

    /// The snake_case object of payments and webhooks, in dollars.
    pub fn to_json(self) -> FeesJson {
        FeesJson {
            buyer_fee: cents_to_json(self.buyer_fee),
            gateway_fee: cents_to_json(self.gateway_fee),
            merchant_net: cents_to_json(self.merchant_net),
            total: cents_to_json(self.total),
        }
    }
}

/// `{"buyer_fee": 3.72, "gateway_fee": 3.48, "merchant_net": 112.52, "total": 119.72}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeesJson {
    /// What the buyer pays on top of the price, in dollars.
    #[schema(value_type = f64)]
    pub buyer_fee: serde_json::Value,
    /// What the gateway keeps of the price, in dollars.
    #[schema(value_type = f64)]
    pub gateway_fee: serde_json::Value,
    /// What the merchant receives, in dollars.
    #[schema(value_type = f64)]
    pub merchant_net: serde_json::Value,
    /// What the buyer pays in all, in dollars.
    #[schema(value_type = f64)]
    pub total: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(amount_cents: i64) -> Fees {
        Fees::compute(
            amount_cents,
            Rate::from_fraction(0.032),
            Rate::from_fraction(0.03),
        )
    }

    #[test]
    fn matches_the_published_card_examples() {
        assert_eq!(
            card(11_600),
            Fees {
                buyer_fee: 372,
                gateway_fee: 348,
                merchant_net: 11_252,
                total: 11_972
            }
        );
        assert_eq!(
            card(89_900),
            Fees {
                buyer_fee: 2_877,
                gateway_fee: 2_697,
                merchant_net: 87_203,
                total: 92_777
            }
        );
    }

    #[test]
    fn rounds_the_buyer_fee_up_and_the_gateway_fee_half_up() {
        // 0.01 × 3.2 % = 0.00032 → buyer 1 cent; gateway 0.0003 → 0 cents.
        assert_eq!(card(1).buyer_fee, 1);
        assert_eq!(card(1).gateway_fee, 0);
        // 50 cents × 3 % = 1.5 cents → 2.
        assert_eq!(card(50).gateway_fee, 2);
        let free = Fees::compute(11_600, Rate::from_fraction(0.0), Rate::from_fraction(0.0));
        assert_eq!(free.total, 11_600);
    }

    #[test]
    fn writes_dollars_as_json_numbers() {
        let json = serde_json::to_string(&card(11_600).to_json()).expect("serializes");
        assert_eq!(
            json,
            r#"{"buyer_fee":3.72,"gateway_fee":3.48,"merchant_net":112.52,"total":119.72}"#
        );
    }
}
