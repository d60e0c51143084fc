"""Event envelopes: checked as a kit component checks them, headers before the body, and a
feed that refuses (and counts) what breaks the contract."""

import asyncio
import unittest
from types import SimpleNamespace

import msgpack

from mandate_client.client import EventFeed
from mandate_client.envelope import Event, both_forms, check_envelope, is_rfc3339, is_traceparent
from mandate_client.strict import (
    INVALID_HEADER,
    MISSING_HEADER,
    NOT_A_MAP,
    UNKNOWN_TYPE,
    Contract,
    ContractError,
)

SUBJECT = "evt.orders.cancelled.v1"
BODY = msgpack.packb({"order_id": "o-1", "customer_id": "c", "reason": "changed my mind"}, use_bin_type=True)


def headers(**replace):
    good = {
        "ce-specversion": "1.0",
        "ce-id": "0190f0a0-0000-7000-8000-000000000001",
        "ce-source": "orders",
        "ce-type": "orders.cancelled.v1",
        "ce-time": "2026-05-01T12:00:00Z",
        "ce-datacontenttype": "application/msgpack",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "correlation-id": "c-1",
    }
    good.update({name.replace("_", "-"): value for name, value in replace.items()})
    return {name: value for name, value in good.items() if value is not None}


class Envelope(unittest.TestCase):
    def refused(self, rule: str, **replace) -> ContractError:
        with self.assertRaises(ContractError) as caught:
            check_envelope(SUBJECT, headers(**replace))
        self.assertEqual(caught.exception.rule, rule, str(caught.exception))
        return caught.exception

    def test_a_complete_envelope_passes(self):
        check_envelope(SUBJECT, headers())
        check_envelope(SUBJECT, headers(traceparent=None, ce_datacontenttype=None, correlation_id=None))

    def test_missing_or_empty_required_headers(self):
        for name in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"):
            self.refused(MISSING_HEADER, **{name: None})
            self.refused(MISSING_HEADER, **{name: ""})
        with self.assertRaises(ContractError) as caught:
            check_envelope(SUBJECT, None)
        self.assertEqual(caught.exception.rule, MISSING_HEADER)

    def test_malformed_headers(self):
        for time in ("1700000000", "2026-13-45T99:99:99Z", "yesterday", "2026-05-01"):
            err = self.refused(INVALID_HEADER, ce_time=time)
            self.assertIn("ce-time", str(err))
        self.refused(INVALID_HEADER, ce_specversion="0.3")
        self.refused(INVALID_HEADER, ce_datacontenttype="application/json")
        self.refused(INVALID_HEADER, traceparent="00-nope-01")
        err = self.refused(INVALID_HEADER, ce_source="mallory")
        self.assertIn("only orders publishes", str(err))

    def test_a_type_that_is_not_the_subjects(self):
        self.refused(UNKNOWN_TYPE, ce_type="orders.cancelled.v2")

    def test_a_keyed_subject_has_the_type_of_its_first_four_tokens(self):
        check_envelope(f"{SUBJECT}.o-1", headers())
        check_envelope(f"{SUBJECT}.7.o-1", headers())
        with self.assertRaises(ContractError) as caught:
            check_envelope("evt.orders.cancelled.v2.7.o-1", headers())
        self.assertEqual(caught.exception.rule, UNKNOWN_TYPE)

    def test_one_events_subject_is_followed_in_both_forms(self):
        self.assertEqual(both_forms(SUBJECT), [SUBJECT, f"{SUBJECT}.>"])
        self.assertEqual(both_forms("evt.orders.*.v1"), ["evt.orders.*.v1", "evt.orders.*.v1.>"])
        for whole in ("evt.>", "evt.orders.>", "evt.orders.placed.>", f"{SUBJECT}.>", "svc.orders.get.v1"):
            self.assertEqual(both_forms(whole), [whole])

    def test_times_and_trace_contexts(self):
        for good in ("2026-05-01T12:00:00Z", "2026-05-01T12:00:00.123456+02:00", "2016-12-31T23:59:60Z"):
            self.assertTrue(is_rfc3339(good), good)
        for bad in ("2026-02-30T12:00:00Z", "2026-05-01T24:00:00Z", "2026-05-01T12:00:00+25:00", "2026-05-01T12:00Z"):
            self.assertFalse(is_rfc3339(bad), bad)
        self.assertTrue(is_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        for bad in (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ):
            self.assertFalse(is_traceparent(bad), bad)


class Events(unittest.TestCase):
    def test_headers_are_read_before_the_body(self):
        with self.assertRaises(ContractError) as caught:
            Event.from_message(SUBJECT, headers(ce_time="yesterday"), b"\xc1")
        self.assertEqual(caught.exception.rule, INVALID_HEADER)

    def test_the_body_is_read_against_its_schema(self):
        contract = Contract.find()
        event = Event.from_message(SUBJECT, headers(), BODY, contract)
        self.assertEqual((event.type, event.order_id, event.source), ("orders.cancelled.v1", "o-1", "orders"))
        positional = msgpack.packb(["o-1", "c", "why"], use_bin_type=True)
        with self.assertRaises(ContractError) as caught:
            Event.from_message(SUBJECT, headers(), positional, contract)
        self.assertEqual(caught.exception.rule, NOT_A_MAP)

    def test_a_keyed_event_is_read_as_its_type(self):
        contract = Contract.find()
        for subject in (f"{SUBJECT}.o-1", f"{SUBJECT}.7.o-1"):
            event = Event.from_message(subject, headers(), BODY, contract)
            self.assertEqual((event.subject, event.type, event.name), (subject, "orders.cancelled.v1", "orders.cancelled"))
            self.assertEqual(event.order_id, "o-1")
        with self.assertRaises(ContractError) as caught:
            Event.from_message(f"{SUBJECT}.o-1", headers(), positional := msgpack.packb(["o-1"]), contract)
        self.assertEqual(caught.exception.rule, NOT_A_MAP, positional)

    def test_a_feed_delivers_good_events_and_counts_the_refused_by_rule(self):
        async def scenario():
            feed = EventFeed(Contract.find())
            message = lambda h, data=BODY: SimpleNamespace(subject=SUBJECT, headers=h, data=data)  # noqa: E731
            await feed.deliver(message(headers(ce_source="mallory")))
            await feed.deliver(message(headers(), BODY + b"\x00"))
            await feed.deliver(message(headers(ce_time=None)))
            await feed.deliver(message(headers()))
            delivered = await feed.next(1.0)
            nothing_else = await feed.next(0.05)
            return feed, delivered, nothing_else

        feed, delivered, nothing_else = asyncio.run(scenario())
        self.assertEqual(delivered.order_id, "o-1")
        self.assertIsNone(nothing_else)
        self.assertEqual(feed.refused, {"invalid-header": 1, "trailing-bytes": 1, "missing-header": 1})
        self.assertEqual(len(feed.refusals), 3)


if __name__ == "__main__":
    unittest.main()
