"""Dead letters as the kit writes them: everything when it fits; without the body (its size
and digest instead) and with capped, counted headers when it would not."""

import hashlib
import unittest

from mandate_kit import deadletter
from mandate_kit.deadletter import Origin, letter, wire_size


def origin(payload: bytes, headers=None) -> Origin:
    return Origin(
        subject="evt.orders.completed.v1",
        stream="EVT_ORDERS",
        sequence=7,
        consumer="loyalty",
        deliveries=1,
        headers=headers if headers is not None else {"ce-type": "orders.completed.v1", "Nats-Msg-Id": "x"},
        payload=payload,
    )


class DeadLetters(unittest.TestCase):
    def test_a_letter_that_fits_keeps_body_and_headers_but_not_nats_ones(self):
        found = letter("loyalty", origin(b"body"), "undecodable", "bad\nreally", 1024)
        headers = dict(found.headers)
        self.assertEqual(found.subject, "dlq.loyalty")
        self.assertEqual(found.payload, b"body")
        self.assertEqual(headers["ce-type"], "orders.completed.v1")
        self.assertEqual(headers["Nats-Msg-Id"], "dlq:loyalty:EVT_ORDERS:7")
        self.assertEqual(headers[deadletter.REASON], "bad | really")
        self.assertNotIn(deadletter.BODY, headers)

    def test_a_letter_that_would_not_fit_leaves_the_body_out_and_says_what_it_was(self):
        body = bytes(4000)
        found = letter("loyalty", origin(body), "undecodable", "bad", 4096)
        headers = dict(found.headers)
        self.assertEqual(found.payload, b"")
        self.assertLessEqual(wire_size(found.headers, 0), 4096)
        self.assertEqual(headers[deadletter.BODY], "omitted")
        self.assertEqual(headers[deadletter.BODY_SIZE], "4000")
        self.assertEqual(headers[deadletter.BODY_SHA256], hashlib.sha256(body).hexdigest())
        self.assertEqual(headers["ce-type"], "orders.completed.v1")
        self.assertNotIn(deadletter.HEADERS_OMITTED, headers)

    def test_hostile_headers_are_capped_and_what_does_not_fit_is_counted(self):
        hostile = {"ce-type": "orders.completed.v1", "x-huge": "é" * 100_000}
        hostile.update({f"x-{i:03}": "v" * 500 for i in range(100)})
        found = letter("loyalty", origin(b"small", hostile), "handler-failed", "r" * 50_000, 16 * 1024)
        self.assertLessEqual(wire_size(found.headers, len(found.payload)), 16 * 1024)
        self.assertEqual(found.payload, b"")
        for name, value in found.headers:
            self.assertLessEqual(len(value.encode()), deadletter.HEADER_CAP + len("…".encode()), name)
        headers = dict(found.headers)
        kept = sum(1 for name, _ in found.headers if name.startswith("x-"))
        self.assertEqual(kept + int(headers[deadletter.HEADERS_OMITTED]), 101)
        self.assertTrue(headers[deadletter.REASON].endswith("…"))


if __name__ == "__main__":
    unittest.main()
