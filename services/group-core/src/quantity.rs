//! Quantities of instances written as a count (`2`) or a percentage of the desired size
//! (`"25%"`), as in `Updating.MaxSurge` or `Remediation.MaxUnhealthy`.

use std::fmt;

/// A number of instances, absolute or relative to the desired size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// Exactly this many instances.
    Count(u32),
    /// This percentage (0 to 100) of the desired size, rounded as the field documents.
    Percent(u32),
}

/// How a percentage that does not give a whole number is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Towards the larger whole number (`10%` of 5 is 1).
    Up,
    /// Towards the smaller whole number (`10%` of 5 is 0).
    Down,
}

// === impl Quantity ===

impl Quantity {
    /// The number of instances this quantity stands for in a group of `desired` instances.
    pub fn resolve(self, desired: u32, rounding: Rounding) -> u32 {
        match self {
            Quantity::Count(n) => n,
            Quantity::Percent(p) => {
                let product = u64::from(desired) * u64::from(p);
                let whole = match rounding {
                    Rounding::Up => product.div_ceil(100),
                    Rounding::Down => product / 100,
                };
                u32::try_from(whole).unwrap_or(u32::MAX)
            }
        }
    }

    /// True when the quantity is literally zero (`0` or `"0%"`), whatever the size.
    pub fn is_zero(self) -> bool {
        matches!(self, Quantity::Count(0) | Quantity::Percent(0))
    }

    /// The JSON form: a number for a count, a string `"N%"` for a percentage.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Quantity::Count(n) => serde_json::Value::from(n),
            Quantity::Percent(p) => serde_json::Value::from(format!("{p}%")),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Count(n) => write!(f, "{n}"),
            Quantity::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_asked() {
        assert_eq!(Quantity::Percent(10).resolve(5, Rounding::Up), 1);
        assert_eq!(Quantity::Percent(10).resolve(5, Rounding::Down), 0);
        assert_eq!(Quantity::Percent(25).resolve(100, Rounding::Up), 25);
        assert_eq!(Quantity::Percent(34).resolve(3, Rounding::Down), 1);
        assert_eq!(Quantity::Count(3).resolve(0, Rounding::Down), 3);
    }

    #[test]
    fn json_form_is_a_number_or_a_percent_string() {
        assert_eq!(Quantity::Count(2).to_json(), serde_json::json!(2));
        assert_eq!(Quantity::Percent(25).to_json(), serde_json::json!("25%"));
        assert!(Quantity::Percent(0).is_zero() && !Quantity::Count(1).is_zero());
    }
}
