//! Owned by `payments`: the payment ledger. A deterministic simulated provider: a charge is
//! declined when the payment token says so (`decline`, or starts with `decline-`) or when the
//! amount is over the customer's limit.

use mandate::{Event, Key, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most one order may be charged, in minor units, unless the token raises it.
pub const DEFAULT_CUSTOMER_LIMIT_MINOR: i64 = 100_000;

/// `evt.payments.captured.v1`: the order's amount was charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PaymentCaptured {
    pub payment_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

impl Event for PaymentCaptured {
    const OWNER: &'static str = "payments";
    const NAME: &'static str = "captured";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// `evt.payments.declined.v1`: the charge was refused; nothing was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PaymentDeclined {
    pub order_id: String,
    pub customer_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
}

impl Event for PaymentDeclined {
    const OWNER: &'static str = "payments";
    const NAME: &'static str = "declined";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// `evt.payments.refunded.v1`: a captured payment was given back (the order was cancelled
/// after the charge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PaymentRefunded {
    pub payment_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

impl Event for PaymentRefunded {
    const OWNER: &'static str = "payments";
    const NAME: &'static str = "refunded";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::enum_of::<Self>)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentStatus {
    Captured,
    Declined,
    Refunded,
    /// The order was cancelled before it could be charged: it never will be.
    Voided,
}

/// A payment as `payments.get.v1` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PaymentView {
    pub order_id: String,
    pub customer_id: String,
    pub status: PaymentStatus,
    pub amount_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct GetPaymentRequest {
    pub order_id: String,
}

/// `svc.payments.get.v1`: the payment of an order. Errors: 404.
#[derive(Debug)]
pub struct GetPayment;

impl Operation for GetPayment {
    const OWNER: &'static str = "payments";
    const NAME: &'static str = "get";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
    type Request = GetPaymentRequest;
    type Response = PaymentView;
}
