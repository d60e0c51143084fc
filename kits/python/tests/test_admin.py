"""The rebuild request, as the kit reads it: empty means the beginning; `from_sequence` or
`since`, not both, nothing else."""

import unittest
from datetime import datetime, timezone

from mandate_kit.admin import parse_rebuild
from mandate_kit.consume import StartAt
from mandate_kit.service import ServiceError


class RebuildRequest(unittest.TestCase):
    def test_what_it_accepts(self):
        self.assertEqual(parse_rebuild(b""), StartAt())
        self.assertEqual(parse_rebuild(b" \n"), StartAt())
        self.assertEqual(parse_rebuild(b"{}"), StartAt())
        self.assertEqual(parse_rebuild(b'{"from_sequence": 42}'), StartAt(sequence=42))
        self.assertEqual(
            parse_rebuild(b'{"since": "2026-05-01T12:00:00Z"}'),
            StartAt(time=datetime(2026, 5, 1, 12, tzinfo=timezone.utc)),
        )

    def test_what_it_refuses_with_a_400(self):
        for body in (
            b"nope",
            b"[]",
            b'{"from_sequence": 1, "since": "2026-05-01T12:00:00Z"}',
            b'{"from_sequence": -1}',
            b'{"from_sequence": "1"}',
            b'{"since": "yesterday"}',
            b'{"from": 1}',
        ):
            with self.subTest(body=body), self.assertRaises(ServiceError) as refused:
                parse_rebuild(body)
            self.assertEqual(refused.exception.code, 400)


if __name__ == "__main__":
    unittest.main()
