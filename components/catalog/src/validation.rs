//! What a product must look like before catalog accepts it. Every rule answers 400 with a
//! message that names the field and says what is allowed.

use mandate::ServiceError;
use schemas::catalog::Product;

const MAX_SKU_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;

/// A sku is a key in every component's store and a token in URLs, so it is kept to a small,
/// safe alphabet.
pub(crate) fn validate_sku(sku: &str) -> Result<(), ServiceError> {
    if sku.is_empty() {
        return Err(ServiceError::bad_request("sku is empty"));
    }
    if sku.chars().count() > MAX_SKU_CHARS {
        return Err(ServiceError::bad_request(format!(
            "sku {sku:?} is longer than {MAX_SKU_CHARS} characters"
        )));
    }
    if let Some(bad) = sku
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(ServiceError::bad_request(format!(
            "sku {sku:?} contains {bad:?}: use letters, digits, '.', '_' and '-' only"
        )));
    }
    Ok(())
}

pub(crate) fn validate_product(product: &Product) -> Result<(), ServiceError> {
    validate_sku(&product.sku)?;
    if product.name.trim().is_empty() {
        return Err(ServiceError::bad_request("name is empty"));
    }
    if product.name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::bad_request(format!(
            "name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if product.unit_price_minor < 0 {
        return Err(ServiceError::bad_request(format!(
            "unit_price_minor is {}: a price cannot be negative",
            product.unit_price_minor
        )));
    }
    let currency = &product.currency;
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(ServiceError::bad_request(format!(
            "currency {currency:?} is not an ISO 4217 code: use three upper-case letters, e.g. \"EUR\""
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            sku: "tea.green-01_b".into(),
            name: "Green tea".into(),
            unit_price_minor: 0,
            currency: "EUR".into(),
        }
    }

    fn refused(change: impl FnOnce(&mut Product)) -> String {
        let mut product = product();
        change(&mut product);
        let err = validate_product(&product).expect_err("refused");
        assert_eq!(err.code, 400);
        err.message
    }

    #[test]
    fn a_well_formed_product_is_accepted() {
        assert!(validate_product(&product()).is_ok());
        let mut longest = product();
        longest.sku = "s".repeat(64);
        longest.name = "n".repeat(200);
        assert!(validate_product(&longest).is_ok());
    }

    #[test]
    fn each_rule_names_its_field() {
        assert!(refused(|p| p.sku.clear()).contains("sku is empty"));
        assert!(refused(|p| p.sku = "s".repeat(65)).contains("longer than 64"));
        assert!(refused(|p| p.sku = "a/b".into()).contains("'/'"));
        assert!(refused(|p| p.sku = "ä".into()).contains("'ä'"));
        assert!(refused(|p| p.name = "  ".into()).contains("name is empty"));
        assert!(refused(|p| p.name = "n".repeat(201)).contains("longer than 200"));
        assert!(refused(|p| p.unit_price_minor = -1).contains("negative"));
        assert!(refused(|p| p.currency = "eur".into()).contains("currency"));
        assert!(refused(|p| p.currency = "EURO".into()).contains("currency"));
        assert!(refused(|p| p.currency = "ÉU".into()).contains("currency"));
    }
}
