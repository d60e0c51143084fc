//! The simulated payment provider: deterministic, so that tests, demos and rebuilds all get
//! the same answer for the same charge (see `schemas::payments`).

use schemas::payments::DEFAULT_CUSTOMER_LIMIT_MINOR;

/// The token that always declines; `decline-<anything>` does too, with a reason of the
/// caller's choosing in the suffix (handy in demos).
const DECLINING_TOKEN: &str = "decline";

/// Charges `amount_minor` to `payment_token`: `Ok` when captured, `Err(reason)` when declined.
pub(crate) fn charge(payment_token: &str, amount_minor: i64, currency: &str) -> Result<(), String> {
    if payment_token == DECLINING_TOKEN || payment_token.starts_with("decline-") {
        return Err(format!("the card was declined (token {payment_token:?})"));
    }
    if amount_minor > DEFAULT_CUSTOMER_LIMIT_MINOR {
        return Err(format!(
            "{amount_minor} {currency} (minor units) is over the customer's limit of {DEFAULT_CUSTOMER_LIMIT_MINOR}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_or_the_amount_declines() {
        assert!(charge("", 100, "EUR").is_ok());
        assert!(
            charge("tok_visa", DEFAULT_CUSTOMER_LIMIT_MINOR, "EUR").is_ok(),
            "at the limit"
        );
        assert!(charge("declined", 100, "EUR").is_ok(), "only `decline` or `decline-…`");
        assert!(charge("decline", 100, "EUR").is_err());
        assert!(charge("decline-insufficient-funds", 100, "EUR").is_err());
        let over = charge("tok_visa", DEFAULT_CUSTOMER_LIMIT_MINOR + 1, "EUR").expect_err("declined");
        assert!(over.contains("limit"), "{over}");
    }
}
