//! A corpus of changes, each a `Message` type before and after, judged on the schema
//! schemars generates for it (as the contract crate does). Each test asserts the exact
//! list of (path, change) found, so a rule that stops firing, or fires somewhere else,
//! fails. Some also decode real MessagePack across the change, to show the rule is what
//! serde does.
//!
//! Over 600 lines on purpose: one corpus, one short test per kind of change, each reading
//! as a before/after pair; split by rule family only if it grows further.

use super::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::json;

fn schema<T: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("a schema is JSON")
}

/// The FULL verdict on `before::Message` → `after::Message`, defined in the braces.
macro_rules! change {
    (before: { $($before:tt)* } after: { $($after:tt)* }) => {{
        #[allow(dead_code)]
        mod before {
            use super::*;
            $($before)*
        }
        #[allow(dead_code)]
        mod after {
            use super::*;
            $($after)*
        }
        check_full(&schema::<before::Message>(), &schema::<after::Message>())
    }};
}

/// (path, change) of each finding, in the order found.
fn where_and_what(incompatibilities: &[Incompatibility]) -> Vec<(&str, Change)> {
    incompatibilities.iter().map(|i| (i.path.as_str(), i.change)).collect()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("encodes")
}

fn decodes<T: DeserializeOwned>(bytes: &[u8]) -> bool {
    rmp_serde::from_slice::<T>(bytes).is_ok()
}

// ---- fields ------------------------------------------------------------------------

#[derive(Serialize, Deserialize, JsonSchema)]
struct OldOrder {
    order_id: String,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct OrderWithOptionalChannel {
    order_id: String,
    #[serde(default)]
    channel: String,
    note: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct OrderWithRequiredChannel {
    order_id: String,
    channel: String,
}

#[test]
fn adding_an_optional_field_is_compatible_and_serde_agrees() {
    let found = check_full(&schema::<OldOrder>(), &schema::<OrderWithOptionalChannel>());
    assert_eq!(found, []);
    // Old readers skip the unknown fields; new readers default the missing ones.
    let new = encode(&OrderWithOptionalChannel {
        order_id: "o1".into(),
        channel: "web".into(),
        note: Some("gift".into()),
    });
    assert!(decodes::<OldOrder>(&new));
    assert!(decodes::<OrderWithOptionalChannel>(&encode(&OldOrder {
        order_id: "o1".into()
    })));
}

#[test]
fn adding_a_required_field_breaks_new_readers_of_old_data() {
    let found = check_full(&schema::<OldOrder>(), &schema::<OrderWithRequiredChannel>());
    assert_eq!(where_and_what(&found), [("$.channel", Change::RequiredFieldAdded)]);
    assert!(!decodes::<OrderWithRequiredChannel>(&encode(&OldOrder {
        order_id: "o1".into()
    })));
}

#[test]
fn removing_a_required_field_breaks_old_readers_of_new_data() {
    let found = check_full(&schema::<OrderWithRequiredChannel>(), &schema::<OldOrder>());
    assert_eq!(where_and_what(&found), [("$.channel", Change::RequiredFieldRemoved)]);
    assert!(!decodes::<OrderWithRequiredChannel>(&encode(&OldOrder {
        order_id: "o1".into()
    })));
}

#[test]
fn removing_an_optional_field_is_reported() {
    let found = check_full(&schema::<OrderWithOptionalChannel>(), &schema::<OldOrder>());
    assert_eq!(
        where_and_what(&found),
        [
            ("$.channel", Change::OptionalFieldRemoved),
            ("$.note", Change::OptionalFieldRemoved)
        ]
    );
}

#[test]
fn renaming_a_field_is_a_removal_and_an_addition() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub customer: String } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub customer_id: String } }
    };
    assert_eq!(
        where_and_what(&found),
        [
            ("$.customer", Change::RequiredFieldRemoved),
            ("$.customer_id", Change::RequiredFieldAdded)
        ]
    );
}

#[test]
fn making_a_field_required_or_optional_is_reported() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { #[serde(default)] pub channel: String } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub channel: String } }
    };
    assert_eq!(where_and_what(&found), [("$.channel", Change::FieldMadeRequired)]);

    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub channel: String } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { #[serde(default)] pub channel: String } }
    };
    assert_eq!(where_and_what(&found), [("$.channel", Change::FieldMadeOptional)]);
}

#[test]
fn changing_a_default_is_reported() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { #[serde(default = "seven")] pub limit: u32 }
            fn seven() -> u32 { 7 }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { #[serde(default = "eight")] pub limit: u32 }
            fn eight() -> u32 { 8 }
        }
    };
    assert_eq!(where_and_what(&found), [("$.limit", Change::DefaultChanged)]);
    assert_eq!(found[0].detail, "7 → 8");
}

#[test]
fn a_field_added_to_an_object_that_denies_unknown_fields_is_reported() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct Message { pub id: String }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct Message { pub id: String, #[serde(default)] pub channel: String }
        }
    };
    assert_eq!(
        where_and_what(&found),
        [("$.channel", Change::FieldAddedToClosedObject)]
    );
}

#[test]
fn documentation_changes_are_compatible() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub id: String }
        }
        after: {
            /// Now documented.
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[schemars(title = "Renamed title")]
            pub struct Message {
                /// The id.
                pub id: String,
            }
        }
    };
    assert_eq!(found, []);
}

#[test]
fn extension_keywords_are_annotations() {
    // `x-` keywords (typify's `x-rust-type`, AsyncAPI's and OpenAPI's extensions) belong to no
    // vocabulary: no validator restricts by them, so adding, changing or removing one is not a
    // change of the data.
    let old = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"oneOf": [{"type": "string", "enum": ["placed"]}, {"type": "string", "const": "paid"}]}
        },
        "required": ["id", "status"]
    });
    let new = json!({
        "type": "object",
        "x-rust-type": {"crate": "schemas", "version": "*", "path": "schemas::a::Message"},
        "properties": {
            "id": {"type": "string", "x-note": 1},
            "status": {
                "oneOf": [{"type": "string", "enum": ["placed"]}, {"type": "string", "const": "paid"}],
                "x-rust-variants": {"placed": "Placed", "paid": "Paid"}
            }
        },
        "required": ["id", "status"]
    });
    assert_eq!(check_full(&old, &new), []);
    assert_eq!(check_full(&new, &old), []);
}

// ---- types -------------------------------------------------------------------------

#[test]
fn retyping_a_field_is_reported_with_both_types() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub total: String } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub total: u64 } }
    };
    assert_eq!(where_and_what(&found), [("$.total", Change::Retyped)]);
    assert_eq!(found[0].detail, "string → integer (uint64)");
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Quantity32 {
    quantity: u32,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Quantity64 {
    quantity: u64,
}

#[test]
fn narrowing_an_integer_breaks_new_readers_and_widening_breaks_old_ones() {
    let narrowed = check_full(&schema::<Quantity64>(), &schema::<Quantity32>());
    assert_eq!(where_and_what(&narrowed), [("$.quantity", Change::Narrowed)]);
    assert!(
        narrowed[0].detail.starts_with("uint64 → uint32"),
        "{}",
        narrowed[0].detail
    );
    let widened = check_full(&schema::<Quantity32>(), &schema::<Quantity64>());
    assert_eq!(where_and_what(&widened), [("$.quantity", Change::Widened)]);

    // What serde does with a value only the wider type holds: the narrower reader fails,
    // whichever side it is on.
    let big = encode(&Quantity64 {
        quantity: u64::from(u32::MAX) + 1,
    });
    assert!(!decodes::<Quantity32>(&big));
}

#[test]
fn a_signedness_change_is_a_retype_and_a_range_attribute_narrows() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub delta: i32 } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub delta: u32 } }
    };
    assert_eq!(where_and_what(&found), [("$.delta", Change::Retyped)]);

    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub limit: u32 } }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { #[schemars(range(min = 1, max = 100))] pub limit: u32 }
        }
    };
    assert_eq!(where_and_what(&found), [("$.limit", Change::Narrowed)]);
    assert_eq!(found[0].detail, "[0, 4294967295] → [1, 100]");
}

#[test]
fn integer_to_float_widens() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub amount: u32 } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub amount: f64 } }
    };
    assert_eq!(where_and_what(&found), [("$.amount", Change::Widened)]);
    assert_eq!(found[0].detail, "integer → number");
}

#[test]
fn nullable_to_non_null_narrows_and_back_widens() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<Option<String>> } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<String> } }
    };
    assert_eq!(where_and_what(&found), [("$.notes[]", Change::Narrowed)]);
    assert_eq!(found[0].detail, "nullable → non-null");

    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<String> } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<Option<String>> } }
    };
    assert_eq!(where_and_what(&found), [("$.notes[]", Change::Widened)]);
    assert_eq!(found[0].detail, "non-null → nullable");
}

#[test]
fn an_option_field_made_plain_is_both_required_and_non_null() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub note: Option<String> } }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub note: String } }
    };
    assert_eq!(
        where_and_what(&found),
        [("$.note", Change::FieldMadeRequired), ("$.note", Change::Narrowed)]
    );
}

#[test]
fn string_to_enum_narrows_and_enum_to_string_widens() {
    let found = change! {
        before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: String } }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: Status }
            #[derive(Serialize, Deserialize, JsonSchema)] #[serde(rename_all = "kebab-case")] pub enum Status { Placed, Paid }
        }
    };
    assert_eq!(where_and_what(&found), [("$.status", Change::Narrowed)]);
    assert_eq!(found[0].detail, r#"string → enum "paid" | "placed""#);

    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: Status }
            #[derive(Serialize, Deserialize, JsonSchema)] #[serde(rename_all = "kebab-case")] pub enum Status { Placed, Paid }
        }
        after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: String } }
    };
    assert_eq!(where_and_what(&found), [("$.status", Change::Widened)]);
}

#[test]
fn a_string_format_added_narrows() {
    let old = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
    let new = json!({"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}, "required": ["id"]});
    assert_eq!(where_and_what(&check_full(&old, &new)), [("$.id", Change::Narrowed)]);
    assert_eq!(where_and_what(&check_full(&new, &old)), [("$.id", Change::Widened)]);
}

// ---- enums -------------------------------------------------------------------------

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum TwoStatuses {
    Placed,
    Paid,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum ThreeStatuses {
    Placed,
    Paid,
    Refunded,
}

#[test]
fn adding_an_enum_variant_is_incompatible_because_old_readers_cannot_decode_it() {
    let found = check_full(&schema::<TwoStatuses>(), &schema::<ThreeStatuses>());
    assert_eq!(where_and_what(&found), [("$", Change::VariantAdded)]);
    assert_eq!(found[0].detail, r#""refunded""#);
    assert!(!decodes::<TwoStatuses>(&encode(&ThreeStatuses::Refunded)));
}

#[test]
fn removing_an_enum_variant_is_incompatible_because_new_readers_cannot_decode_old_data() {
    let found = check_full(&schema::<ThreeStatuses>(), &schema::<TwoStatuses>());
    assert_eq!(where_and_what(&found), [("$", Change::VariantRemoved)]);
    assert_eq!(found[0].detail, r#""refunded""#);
}

#[test]
fn documented_variants_are_compared_as_one_enum() {
    // With doc comments schemars emits `oneOf` of an `enum` and one `const` per variant
    // (as for `OrderStatus` in the contract): still one set of values.
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub history: Vec<Status> }
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[serde(rename_all = "kebab-case")]
            pub enum Status { Placed, /// Terminal.
                Cancelled }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub history: Vec<Status> }
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[serde(rename_all = "kebab-case")]
            pub enum Status { /// First.
                Placed, Cancelled, /// Terminal too.
                Completed }
        }
    };
    assert_eq!(where_and_what(&found), [("$.history[]", Change::VariantAdded)]);
    assert_eq!(found[0].detail, r#""completed""#);
}

#[test]
fn externally_tagged_variants_are_matched_by_name() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub enum Payment { Free, Card { last4: String }, Voucher(u32) }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub enum Payment { Free, Card { last4: u16 }, Invoice { due_days: u8 } }
        }
    };
    assert_eq!(
        where_and_what(&found),
        [
            ("$.payment.Card.last4", Change::Retyped),
            ("$.payment", Change::VariantAdded),
            ("$.payment", Change::VariantRemoved),
        ]
    );
    assert_eq!(found[1].detail, "Invoice");
    assert_eq!(found[2].detail, "Voucher");
}

#[test]
fn internally_tagged_variants_are_matched_by_their_tag() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[serde(tag = "kind", rename_all = "snake_case")]
            pub enum Payment { Free, Card { last4: String } }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
            #[derive(Serialize, Deserialize, JsonSchema)]
            #[serde(tag = "kind", rename_all = "snake_case")]
            pub enum Payment { Free, Card { last4: String, holder: String }, Invoice { due_days: u8 } }
        }
    };
    assert_eq!(
        where_and_what(&found),
        [
            (r#"$.payment(kind="card").holder"#, Change::RequiredFieldAdded),
            ("$.payment", Change::VariantAdded),
        ]
    );
    assert_eq!(found[1].detail, r#"kind="invoice""#);
}

#[test]
fn a_data_variant_added_to_a_unit_only_enum_is_a_variant_change() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub enum Message { Free }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub enum Message { Free, Voucher(u32) }
        }
    };
    assert_eq!(where_and_what(&found), [("$", Change::VariantAdded)]);
    assert_eq!(found[0].detail, "Voucher");
}

// ---- nesting -----------------------------------------------------------------------

#[test]
fn a_change_in_a_referenced_definition_is_reported_where_it_is_used() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub lines: Vec<Line>, pub returned: Option<Line> }
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Line { pub sku: String, pub quantity: u32 }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub lines: Vec<Line>, pub returned: Option<Line> }
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Line { pub sku: u64, pub quantity: u32, pub currency: String }
        }
    };
    assert_eq!(
        where_and_what(&found),
        [
            ("$.lines[].currency", Change::RequiredFieldAdded),
            ("$.lines[].sku", Change::Retyped),
            ("$.returned.currency", Change::RequiredFieldAdded),
            ("$.returned.sku", Change::Retyped),
        ]
    );
}

#[test]
fn map_values_and_tuple_elements_have_their_own_paths() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub stock: std::collections::BTreeMap<String, u32>, pub pair: (u8, String) }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub stock: std::collections::BTreeMap<String, String>, pub pair: (u8, u32) }
        }
    };
    assert_eq!(
        where_and_what(&found),
        [("$.pair[1]", Change::Retyped), ("$.stock.*", Change::Retyped)]
    );
}

#[test]
fn a_struct_turned_into_a_map_is_a_retype() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub stock: Stock }
            #[derive(Serialize, Deserialize, JsonSchema)] pub struct Stock { pub available: u32 }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub stock: std::collections::BTreeMap<String, u32> }
        }
    };
    assert_eq!(
        where_and_what(&found),
        [
            ("$.stock.available", Change::RequiredFieldRemoved),
            ("$.stock", Change::Retyped)
        ]
    );
}

#[test]
fn recursive_types_are_walked_once() {
    let found = change! {
        before: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub label: String, pub children: Vec<Message>, pub parent: Option<Box<Message>> }
        }
        after: {
            #[derive(Serialize, Deserialize, JsonSchema)]
            pub struct Message { pub label: u32, pub children: Vec<Message>, pub parent: Option<Box<Message>> }
        }
    };
    assert_eq!(where_and_what(&found), [("$.label", Change::Retyped)]);
}

// ---- what the checker does not model -----------------------------------------------

#[test]
fn a_change_in_an_unmodelled_keyword_fails_closed() {
    let old = json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}}});
    let new = json!({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}});
    assert_eq!(where_and_what(&check_full(&old, &new)), [("$", Change::NotUnderstood)]);
    assert_eq!(check_full(&old, &old), []);
}

#[test]
fn an_unresolvable_reference_fails_closed() {
    let old = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}});
    let found = check_full(&old, &old);
    assert_eq!(where_and_what(&found), [("$.a", Change::NotUnderstood)]);
    assert!(found[0].detail.contains("#/$defs/Missing"), "{}", found[0].detail);
}

// ---- FULL_TRANSITIVE and the history -------------------------------------------------

#[test]
fn transitive_checks_catch_what_a_pairwise_check_misses() {
    // Revision 1 had `code: String`; revision 2 dropped it; the current one re-adds
    // `code` as a number. Pairwise (2 → current) that is an optional field added; against
    // revision 1 it is a retype, and replaying revision-1 events would fail.
    let first = json!({"type": "object", "properties": {"id": {"type": "string"}, "code": {"type": "string", "default": ""}}, "required": ["id"]});
    let second = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
    let current = json!({"type": "object", "properties": {"id": {"type": "string"}, "code": {"type": "integer", "format": "uint32", "minimum": 0, "default": 0}}, "required": ["id"]});
    assert_eq!(check_full(&second, &current), []);

    let revisions = [
        Revision {
            number: 1,
            schema: first,
        },
        Revision {
            number: 2,
            schema: second,
        },
    ];
    let found = check_full_transitive(&revisions, &current);
    let summary: Vec<_> = found
        .iter()
        .map(|f| {
            (
                f.incompatibility.path.as_str(),
                f.incompatibility.change,
                f.revisions.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("$.code", Change::DefaultChanged, vec!["0001".to_owned()]),
            ("$.code", Change::Retyped, vec!["0001".to_owned()]),
        ]
    );
}

#[test]
fn the_same_change_against_several_revisions_is_listed_once() {
    let old = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
    let doc_only =
        json!({"type": "object", "description": "docs", "properties": {"id": {"type": "string"}}, "required": ["id"]});
    let current = json!({"type": "object", "properties": {"id": {"type": "string"}, "x": {"type": "string"}}, "required": ["id", "x"]});
    let revisions = [
        Revision { number: 1, schema: old },
        Revision {
            number: 2,
            schema: doc_only,
        },
    ];
    let found = check_full_transitive(&revisions, &current);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].revisions, ["0001", "0002"]);
    assert!(
        found[0].to_string().starts_with("$.x: required field added: ")
            && found[0].to_string().ends_with(" [against revisions 0001, 0002]"),
        "{}",
        found[0]
    );
}

#[test]
fn history_is_numbered_appended_and_checked_for_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("events/orders.placed.v1");
    assert_eq!(read_history(&history).expect("a missing history is empty"), []);

    let first = append_revision(&history, "{\"type\": \"object\"}\n").expect("appends");
    let second = append_revision(&history, "{\"type\": \"string\"}\n").expect("appends");
    assert_eq!(first, history.join("0001.json"));
    assert_eq!(second, history.join("0002.json"));
    assert!(append_revision(&history, "not json").is_err(), "only JSON is kept");
    std::fs::write(history.join("README.md"), "not a revision").expect("write");

    let revisions = read_history(&history).expect("reads");
    let labels: Vec<String> = revisions.iter().map(Revision::label).collect();
    assert_eq!(labels, ["0001", "0002"]);
    assert_eq!(revisions[1].schema, json!({"type": "string"}));

    std::fs::remove_file(&first).expect("remove");
    let err = read_history(&history).expect_err("a gap is refused");
    assert!(err.to_string().contains("revision 0001 is missing"), "{err}");
}
