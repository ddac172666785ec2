//! Money: an exact decimal amount with its ISO 4217 currency. Never a float.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationErrors;

/// Stored amounts are integers of 1/10,000 of the unit, which keeps sums exact on every backend.
pub const STORAGE_SCALE: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Decimal amount as a string, e.g. `"1200000.00"`; numbers are accepted on input.
    #[schema(value_type = String, example = "1200000.00")]
    pub amount: Decimal,
    /// ISO 4217 code, e.g. `CNY`.
    #[schema(example = "CNY")]
    pub currency: String,
}

impl Money {
    /// Checks the currency code and that the amount is non-negative with at most four decimals.
    pub fn validate(&self, errors: &mut ValidationErrors, field: &str) -> Option<Money> {
        let currency = currency(errors, &format!("{field}.currency"), &self.currency);
        let amount = self.amount.normalize();
        let amount_ok = if amount.is_sign_negative() {
            errors.add(
                format!("{field}.amount"),
                "negative_amount",
                "amount must not be negative",
            );
            false
        } else if amount.scale() > STORAGE_SCALE || to_storage(amount).is_none() {
            errors.add(
                format!("{field}.amount"),
                "invalid_amount",
                "amount must have at most 4 decimal places and fewer than 15 integer digits",
            );
            false
        } else {
            true
        };
        Some(Money {
            amount,
            currency: currency?,
        })
        .filter(|_| amount_ok)
    }

    pub fn storage_units(&self) -> i64 {
        to_storage(self.amount).expect("validated money fits the storage scale")
    }

    pub fn from_storage(units: i64, currency: impl Into<String>) -> Self {
        Money {
            amount: from_storage(units),
            currency: currency.into(),
        }
    }
}

pub fn from_storage(units: i64) -> Decimal {
    Decimal::new(units, STORAGE_SCALE).normalize()
}

fn to_storage(amount: Decimal) -> Option<i64> {
    let scaled = amount.checked_mul(Decimal::from(10_i64.pow(STORAGE_SCALE)))?;
    if scaled.fract() != Decimal::ZERO || scaled.abs() > Decimal::from(i64::MAX / 1000) {
        return None;
    }
    i64::try_from(scaled).ok()
}

/// Upper-cases and checks an ISO 4217 code.
pub fn currency(errors: &mut ValidationErrors, field: &str, code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    if iso_currency::Currency::from_code(&code).is_some() {
        Some(code)
    } else {
        errors.add(
            field,
            "invalid_currency",
            format!("{field} must be an ISO 4217 code such as CNY"),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_round_trip_exactly_through_storage_units() {
        let money = Money {
            amount: Decimal::from_str("1200000.0001").unwrap(),
            currency: "cny".into(),
        };
        let mut errors = ValidationErrors::default();
        let valid = money.validate(&mut errors, "amount").unwrap();
        assert_eq!(valid.currency, "CNY");
        assert_eq!(valid.storage_units(), 12_000_000_001);
        assert_eq!(from_storage(12_000_000_001), valid.amount);
    }

    #[test]
    fn too_precise_negative_or_unknown_money_is_rejected() {
        let mut errors = ValidationErrors::default();
        for (amount, currency) in [("1.00001", "CNY"), ("-1", "CNY"), ("1", "XXZ")] {
            let money = Money {
                amount: Decimal::from_str(amount).unwrap(),
                currency: currency.into(),
            };
            assert!(money.validate(&mut errors, "amount").is_none());
        }
        let codes: Vec<_> = errors.0.iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            ["invalid_amount", "negative_amount", "invalid_currency"]
        );
    }
}
