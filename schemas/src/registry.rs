//! Every message version of the contract, in one list: what the JSON Schemas under
//! `schemas/json/` (and later the AsyncAPI document) are generated from. A test checks that
//! every `impl Event` / `impl Operation` in this crate is listed here, so nothing published
//! goes undocumented.

use mandate::{Event, Operation};
use schemars::{JsonSchema, Schema, schema_for};

use crate::{catalog, inventory, loyalty, notifications, orders, payments, shipping};

/// What part of the contract a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An event body, published on `evt.<owner>.<name>.v<N>`.
    Event,
    /// A service request body, sent to `svc.<owner>.<name>.v<N>`.
    Request,
    /// A service response body.
    Response,
}

/// One message version: its name (`orders.placed.v1`), role, subject and JSON Schema.
#[derive(Debug, Clone)]
pub struct Message {
    pub name: String,
    pub owner: &'static str,
    pub role: Role,
    pub subject: String,
    pub schema: Schema,
    /// Decodes a MessagePack body with today's type, as strictly as the kit does
    /// (`mandate::codec`): what a reader (or a replay) does with a stored message of this
    /// version.
    pub decode: fn(&[u8]) -> Result<(), String>,
}

fn decode_as<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<(), String> {
    mandate::codec::decode::<T>(bytes).map(drop).map_err(|e| e.to_string())
}

impl Message {
    /// Where its schema is committed, relative to `schemas/`.
    pub fn path(&self) -> String {
        format!("json/{}.json", self.stem())
    }

    /// Where its golden sample is committed, relative to `schemas/`, without extension
    /// (`.json` and `.msgpack` sit side by side).
    pub fn sample_path(&self) -> String {
        format!("samples/{}", self.stem())
    }

    fn stem(&self) -> String {
        match self.role {
            Role::Event => format!("events/{}", self.name),
            Role::Request => format!("services/{}.request", self.name),
            Role::Response => format!("services/{}.response", self.name),
        }
    }
}

fn event<E: Event + JsonSchema>() -> Message {
    let mut schema = schema_for!(E);
    if let Some(key) = E::KEY {
        // An annotation, like `x-rust-type`: which entity the event is about and the field
        // that holds its id; the event travels on its subject plus `.<key>`.
        schema.insert(
            "x-mandate-key".into(),
            serde_json::json!({"entity": key.entity, "field": key.field}),
        );
    }
    Message {
        name: E::ce_type(),
        owner: E::OWNER,
        role: Role::Event,
        subject: E::subject(),
        schema,
        decode: decode_as::<E>,
    }
}

fn operation<O: Operation>() -> [Message; 2]
where
    O::Request: JsonSchema,
    O::Response: JsonSchema,
{
    let message = |role, schema, decode| Message {
        name: O::qualified_name(),
        owner: O::OWNER,
        role,
        subject: O::subject(),
        schema,
        decode,
    };
    [
        message(Role::Request, schema_for!(O::Request), decode_as::<O::Request>),
        message(Role::Response, schema_for!(O::Response), decode_as::<O::Response>),
    ]
}

/// Every event and operation of the contract.
pub fn messages() -> Vec<Message> {
    let mut messages = vec![
        event::<catalog::ProductUpserted>(),
        event::<inventory::Restocked>(),
        event::<inventory::StockReserved>(),
        event::<inventory::StockRejected>(),
        event::<inventory::StockReleased>(),
        event::<orders::OrderPlaced>(),
        event::<orders::OrderPlacedV2>(),
        event::<orders::OrderCancelled>(),
        event::<orders::OrderConfirmed>(),
        event::<orders::OrderCompleted>(),
        event::<payments::PaymentCaptured>(),
        event::<payments::PaymentDeclined>(),
        event::<payments::PaymentRefunded>(),
        event::<shipping::ShipmentDispatched>(),
        event::<loyalty::PointsAwarded>(),
        event::<loyalty::PointsReversed>(),
    ];
    for pair in [
        operation::<catalog::UpsertProduct>(),
        operation::<catalog::GetProduct>(),
        operation::<catalog::ListProducts>(),
        operation::<inventory::Restock>(),
        operation::<inventory::GetStock>(),
        operation::<orders::PlaceOrder>(),
        operation::<orders::GetOrder>(),
        operation::<orders::ListOrders>(),
        operation::<orders::CancelOrder>(),
        operation::<payments::GetPayment>(),
        operation::<shipping::GetShipment>(),
        operation::<notifications::ListNotifications>(),
        operation::<loyalty::GetBalance>(),
    ] {
        messages.extend(pair);
    }
    messages
}
