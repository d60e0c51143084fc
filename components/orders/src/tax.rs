//! Tax: orders' own table of rates, and the one rule that finds the tax a line contains.
//!
//! Prices are what the customer pays, tax included (as consumer prices are shown in the EU
//! and the UK): catalog's price, which orders keeps in its price list, is the gross price of
//! a unit. Tax never changes what an order costs; orders itemises the tax each line
//! contains, so the order can say its subtotal, tax and total (`orders.placed.v2`).
//!
//! The table is a stand-in for a tax engine: one standard rate per currency, as if each
//! currency were one tax jurisdiction. A currency not in it itemises no tax (rate 0) — US
//! dollars among them, since US sales tax depends on where the goods go, which orders does
//! not know. The tax of an order is decided once, when it is placed, and travels in its
//! event: a rebuild reads it from there and never asks this table again, so changing a rate
//! changes only orders placed after the change.

/// Standard rates in basis points (2000 = 20%), by ISO 4217 code, sorted by code.
const RATES: &[(&str, u32)] = &[
    ("CHF", 810),
    ("DKK", 2500),
    ("EUR", 2000),
    ("GBP", 2000),
    ("NOK", 2500),
    ("PLN", 2300),
    ("SEK", 2500),
];

/// The rate of `currency` in basis points; 0 for a currency not in the table.
pub(crate) fn rate_bp(currency: &str) -> u32 {
    RATES
        .binary_search_by(|(code, _)| code.cmp(&currency))
        .map_or(0, |i| RATES[i].1)
}

/// The tax contained in a gross `amount` (minor units, not negative) at `rate_bp`:
/// `amount × rate / (1 + rate)`, rounded half up to a whole minor unit. Per line, not per
/// unit: a line of two at 12.50 EUR contains 4.17 EUR, not 2 × 2.08.
pub(crate) fn contained(amount: i64, rate_bp: u32) -> i64 {
    let (amount, rate) = (i128::from(amount.max(0)), i128::from(rate_bp));
    let denominator = 10_000 + rate;
    let tax = (amount * rate * 2 + denominator) / (denominator * 2);
    // tax ≤ amount, so it fits.
    i64::try_from(tax).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_lookups_find_every_rate() {
        assert!(RATES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, rate) in RATES {
            assert_eq!(rate_bp(code), *rate);
        }
        assert_eq!(rate_bp("USD"), 0);
        assert_eq!(rate_bp("JPY"), 0);
    }

    #[test]
    fn the_tax_contained_rounds_half_up_per_line() {
        // 2 × 12.50 EUR = 25.00 EUR gross at 20%: 25.00 / 1.2 = 20.83 net, so 4.17 tax.
        assert_eq!(contained(2500, 2000), 417);
        assert_eq!(contained(499, 2000), 83);
        // 0.06 / 1.2 = 0.05 net: tax 0.01; 0.03 contains 0.005, which rounds up.
        assert_eq!(contained(6, 2000), 1);
        assert_eq!(contained(3, 2000), 1);
        assert_eq!(contained(2, 2000), 0);
        assert_eq!(contained(0, 2000), 0);
        assert_eq!(contained(12_345, 0), 0);
        // Never more than the amount, even at the extremes.
        assert!(contained(i64::MAX, 2500) < i64::MAX);
        assert_eq!(contained(1, u32::MAX), 1);
    }
}
