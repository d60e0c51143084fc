//! Amounts for people: minor units shown in the currency's own decimals.

/// ISO 4217 currencies without minor units (the yen has no cents).
const NO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
];
/// ISO 4217 currencies with three decimals.
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// `450, "EUR"` → `4.50 EUR`; `-5, "EUR"` → `-0.05 EUR`; `1200, "JPY"` → `1200 JPY`.
pub(crate) fn format_money(minor: i64, currency: &str) -> String {
    let decimals: u32 = if NO_DECIMALS.contains(&currency) {
        0
    } else if THREE_DECIMALS.contains(&currency) {
        3
    } else {
        2
    };
    if decimals == 0 {
        return format!("{minor} {currency}");
    }
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    let unit = 10u64.pow(decimals);
    format!(
        "{sign}{}.{:0width$} {currency}",
        magnitude / unit,
        magnitude % unit,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::format_money;

    #[test]
    fn amounts_use_the_currency_decimals() {
        assert_eq!(format_money(450, "EUR"), "4.50 EUR");
        assert_eq!(format_money(5, "USD"), "0.05 USD");
        assert_eq!(format_money(-105, "EUR"), "-1.05 EUR");
        assert_eq!(format_money(1200, "JPY"), "1200 JPY");
        assert_eq!(format_money(1500, "KWD"), "1.500 KWD");
        assert_eq!(format_money(i64::MIN, "EUR"), "-92233720368547758.08 EUR");
    }
}
