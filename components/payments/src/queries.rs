//! Reads.

use mandate::{ServiceError, View};
use schemas::payments::{GetPaymentRequest, PaymentView};

use crate::ledger::{Payment, payment_key};

/// `payments.get.v1`: 404 until the order has a payment (a cancellation seen before any
/// charge is a marker, not a payment).
pub(crate) fn get_payment(view: &View, request: GetPaymentRequest) -> Result<PaymentView, ServiceError> {
    if request.order_id.is_empty() {
        return Err(ServiceError::bad_request("order_id is empty"));
    }
    view.get::<Payment>(&payment_key(&request.order_id))?
        .and_then(|payment| payment.view())
        .ok_or_else(|| ServiceError::not_found(format!("no payment for order {:?}", request.order_id)))
}
