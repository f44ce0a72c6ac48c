//! Money as integer micro-dollars. Amounts are converted from decimal USD once, at the edge
//! (configuration, the admin API), and all arithmetic after that is exact and saturating.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Micro-dollars per dollar.
pub const MICROS_PER_USD: u64 = 1_000_000;

/// Largest amount accepted from decimal input: one billion dollars.
const MAX_USD: f64 = 1e9;

/// An amount of money in micro-US-dollars (1 USD = 1 000 000).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(pub u64);

/// A decimal dollar amount that cannot be money.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MoneyError {
    /// The amount is negative, not finite, or above one billion dollars.
    #[error("`{0}` is not an amount of USD between 0 and 1e9")]
    OutOfRange(f64),
}

impl Micros {
    /// Zero.
    pub const ZERO: Micros = Micros(0);

    /// Converts a decimal USD amount, rounded to the nearest micro-dollar.
    ///
    /// # Errors
    /// [`MoneyError::OutOfRange`] for negative, non-finite or huge amounts.
    pub fn from_usd(usd: f64) -> Result<Micros, MoneyError> {
        if !usd.is_finite() || !(0.0..=MAX_USD).contains(&usd) {
            return Err(MoneyError::OutOfRange(usd));
        }
        // In range and finite: the product fits in u64 exactly enough for six decimals.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let micros = (usd * 1e6).round() as u64;
        Ok(Micros(micros))
    }

    /// The amount in USD, for display and JSON (never for arithmetic).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// `self + other`, saturating.
    #[must_use]
    pub fn plus(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }

    /// `self - other`, floored at zero.
    #[must_use]
    pub fn minus(self, other: Micros) -> Micros {
        Micros(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Micros {
    /// `$1.50`, `$0.000125`: at least two decimals, at most six, no trailing zeros past two.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_PER_USD;
        let frac = format!("{:06}", self.0 % MICROS_PER_USD);
        let trimmed = frac.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            frac.get(..2).unwrap_or("00")
        } else {
            trimmed
        };
        write!(f, "${whole}.{shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_dollars_become_exact_micros() {
        assert_eq!(Micros::from_usd(0.15), Ok(Micros(150_000)));
        assert_eq!(Micros::from_usd(2.5), Ok(Micros(2_500_000)));
        assert_eq!(Micros::from_usd(0.000_001), Ok(Micros(1)));
        assert_eq!(Micros::from_usd(0.0), Ok(Micros(0)));
    }

    #[test]
    fn impossible_amounts_are_refused() {
        for bad in [-0.01, f64::NAN, f64::INFINITY, 2e9] {
            assert!(Micros::from_usd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_keeps_cents_and_trims_the_rest() {
        assert_eq!(Micros(1_500_000).to_string(), "$1.50");
        assert_eq!(Micros(125).to_string(), "$0.000125");
        assert_eq!(Micros(0).to_string(), "$0.00");
        assert_eq!(Micros(12_345_670).to_string(), "$12.34567");
    }
}
