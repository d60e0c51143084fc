"""Reactions' ids: the kit's UUIDv5 formula, so a re-run handler emits the same id."""

import unittest

from mandate_kit.reactions import Cause, derived_event_id


class Reactions(unittest.TestCase):
    def test_ids_are_the_kits(self):
        # What mandate::envelope::derived_event_id answers for the same arguments.
        self.assertEqual(derived_event_id("inventory", "abc", 0), "89649ee3-97cd-5146-9e99-8ff4ae060822")
        self.assertEqual(
            derived_event_id("loyalty", "7f0c2d1e-0000-7000-8000-000000000001", 1),
            "a3afb48f-851f-55ba-aa5a-ed7608fa6183",
        )
        self.assertNotEqual(derived_event_id("loyalty", "abc", 0), derived_event_id("loyalty", "abc", 1))

    def test_a_cause_without_trace_or_correlation_starts_both(self):
        cause = Cause.of({"ce-id": "e-1"})
        self.assertEqual(cause.correlation_id, "e-1")
        self.assertEqual(len(cause.trace_id), 32)


if __name__ == "__main__":
    unittest.main()
