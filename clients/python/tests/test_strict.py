"""Bodies: each rule of the contract's encoding, at the top level and nested, by the kit's
names — and what must still pass: every golden sample, unknown fields, optional values."""

import json
import unittest
from pathlib import Path

import msgpack

from mandate_client.strict import (
    BINARY_STRING,
    NOT_A_MAP,
    TRAILING_BYTES,
    UNDECODABLE,
    Contract,
    ContractError,
    decode,
)

CONTRACT = Contract.find()
PLACED = CONTRACT.event("orders.placed.v1")
ORDER_VIEW = CONTRACT.response("orders.get.v1")


def pack(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def line(sku="tea", quantity=2):
    return {"sku": sku, "quantity": quantity, "unit_price_minor": 100}


def placed(**replace):
    body = {
        "order_id": "o-1",
        "customer_id": "alice",
        "lines": [line()],
        "total_minor": 200,
        "currency": "EUR",
    }
    body.update(replace)
    return body


class Refuses(unittest.TestCase):
    def refused(self, payload: bytes, rule: str, path: str, schema=PLACED) -> ContractError:
        with self.assertRaises(ContractError) as caught:
            decode(payload, schema)
        self.assertEqual((caught.exception.rule, caught.exception.path), (rule, path), str(caught.exception))
        return caught.exception

    def test_a_struct_sent_as_an_array(self):
        positional = pack(["o-1", "alice", [["tea", 2, 100]], 200, "EUR"])
        err = self.refused(positional, NOT_A_MAP, "")
        self.assertEqual(str(err), "not-a-map: a struct encoded as an array")
        nested = pack(placed(lines=[line(), ["cup", 1, 100]]))
        self.refused(nested, NOT_A_MAP, "lines[1]")

    def test_a_string_or_a_key_sent_as_bin(self):
        err = self.refused(pack(placed(lines=[line(sku=b"tea")])), BINARY_STRING, "lines[0].sku")
        self.assertEqual(str(err), "binary-string at lines[0].sku: a string encoded as bin")
        self.refused(pack(placed(order_id=b"o-1")), BINARY_STRING, "order_id")
        bin_key = placed()
        bin_key[b"extra"] = 1
        self.refused(pack(bin_key), BINARY_STRING, "")
        nested_key = placed(lines=[{b"sku": "tea", "quantity": 1, "unit_price_minor": 1}])
        self.refused(pack(nested_key), BINARY_STRING, "lines[0]")

    def test_a_key_that_is_not_a_string(self):
        indexed = {0: "o-1", 1: "alice", 2: [line()], 3: 200, 4: "EUR"}
        err = self.refused(pack(indexed), NOT_A_MAP, "")
        self.assertEqual(err.message, "a map key that is not a string")

    def test_bytes_after_the_body(self):
        for tail in (b"\xc0", b"\x80", b"\xc1", b"\xcc", b"junk"):
            self.refused(pack(placed()) + tail, TRAILING_BYTES, "")

    def test_not_messagepack_truncated_or_empty(self):
        good = pack(placed())
        self.refused(b"\xc1", UNDECODABLE, "")
        self.refused(good[:-3], UNDECODABLE, "")
        self.refused(b"", UNDECODABLE, "")
        self.refused(b'{"order_id": "o-1"}', UNDECODABLE, "")

    def test_a_wrong_type_or_a_missing_field(self):
        self.refused(pack(placed(lines=[line(quantity="two")])), UNDECODABLE, "lines[0].quantity")
        self.refused(pack(placed(lines=[line(quantity=-1)])), UNDECODABLE, "lines[0].quantity")
        err = self.refused(pack(placed(lines=[{"quantity": 1, "unit_price_minor": 1}])), UNDECODABLE, "lines[0]")
        self.assertIn("sku", err.message)

    def test_an_integer_outside_its_format_like_a_kit_reader(self):
        # uint32 quantity, int64 total: what a Rust reader of the type cannot hold is refused.
        self.refused(pack(placed(lines=[line(quantity=2**32)])), UNDECODABLE, "lines[0].quantity")
        self.refused(pack(placed(total_minor=2**63)), UNDECODABLE, "total_minor")
        self.assertEqual(decode(pack(placed(total_minor=2**63 - 1)), PLACED)["total_minor"], 2**63 - 1)
        self.assertEqual(decode(pack(placed(lines=[line(quantity=2**32 - 1)])), PLACED)["lines"][0]["quantity"], 2**32 - 1)

    def test_enumerations_are_their_names(self):
        view = {"order_id": "o", "customer_id": "c", "status": "placed", "lines": [], "total_minor": 0, "currency": "EUR"}
        self.assertEqual(decode(pack(view), ORDER_VIEW)["status"], "placed")
        for status, rule in (("lost", UNDECODABLE), (1, UNDECODABLE), (b"placed", BINARY_STRING)):
            self.refused(pack(dict(view, status=status)), rule, "status", ORDER_VIEW)

    def test_without_a_schema_the_rules_still_hold(self):
        self.refused(pack(["a", 1]), NOT_A_MAP, "", schema=None)
        self.refused(pack({"a": {"b": [b"raw"]}}), BINARY_STRING, "a.b[0]", schema=None)
        self.refused(pack({"a": {1: "x"}}), NOT_A_MAP, "a", schema=None)
        self.assertEqual(decode(pack({"a": [1, "x", None]}), None), {"a": [1, "x", None]})


class Accepts(unittest.TestCase):
    def test_every_golden_sample_with_its_schema(self):
        samples = CONTRACT.directory.parent / "samples"
        checked = 0
        for sample in sorted(samples.glob("*/*.msgpack")):
            kind = "events" if sample.parent.name == "events" else "services"
            schema_path = CONTRACT.directory / kind / f"{sample.stem}.json"
            schema = json.loads(schema_path.read_text())
            expected = json.loads(sample.with_suffix(".json").read_text())
            self.assertEqual(decode(sample.read_bytes(), schema), expected, sample.name)
            checked += 1
        self.assertGreater(checked, 20)

    def test_unknown_fields_whatever_they_hold(self):
        newer = placed(channel="web", extra_positional=["a", 1], extra_bin=b"raw")
        newer["lines"] = [dict(line(), gift_wrap=True)]
        self.assertEqual(decode(pack(newer), PLACED)["lines"][0]["sku"], "tea")

    def test_optional_fields_absent_or_nil(self):
        page = CONTRACT.response("catalog.list-products.v1")
        self.assertEqual(decode(pack({"items": []}), page), {"items": []})
        self.assertEqual(decode(pack({"items": [], "next": None}), page)["next"], None)
        with self.assertRaises(ContractError) as caught:
            decode(pack({"items": [], "next": b"cursor"}), page)
        self.assertEqual(caught.exception.rule, BINARY_STRING)

    def test_the_contract_knows_no_type_from_outside_it(self):
        self.assertIsNone(CONTRACT.event("../../etc/passwd"))
        self.assertIsNone(CONTRACT.event("orders.placed.v99"))


if __name__ == "__main__":
    unittest.main()
