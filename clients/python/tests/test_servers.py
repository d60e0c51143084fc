"""``--server`` / ``NATS_URL``: one URL or a comma-separated list, as the nats CLI and the
kit take it; an empty entry is refused saying what to write."""

import unittest

from mandate_client.cli import parser
from mandate_client.client import server_list


class ServerList(unittest.TestCase):
    def test_one_server_is_a_list_of_one(self):
        self.assertEqual(server_list("nats://127.0.0.1:4222"), ["nats://127.0.0.1:4222"])

    def test_servers_are_separated_by_commas_with_whitespace_tolerated(self):
        self.assertEqual(
            server_list("nats://nats-1:4222, nats://nats-2:4222 ,\tnats://nats-3:4222 "),
            ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"],
        )

    def test_an_empty_entry_is_refused_with_its_position(self):
        for value, position in [
            ("nats://a:4222,,nats://b:4222", "server 2 of 3 is empty"),
            ("nats://a:4222,", "server 2 of 2 is empty"),
            (" ,nats://a:4222", "server 1 of 2 is empty"),
        ]:
            with self.assertRaises(ValueError) as refused:
                server_list(value)
            self.assertIn(position, str(refused.exception))
            self.assertIn("single commas", str(refused.exception))
        with self.assertRaises(ValueError) as refused:
            server_list("  ")
        self.assertIn("is empty", str(refused.exception))

    def test_the_server_option_takes_a_list_and_refuses_an_empty_entry_as_a_usage_error(self):
        args = parser().parse_args(["--server", "nats://a:4222,nats://b:4222", "products"])
        self.assertEqual(args.server, "nats://a:4222,nats://b:4222")
        with self.assertRaises(SystemExit) as usage:
            # argparse prints the complaint on stderr and exits 2.
            with _quiet():
                parser().parse_args(["--server", "nats://a:4222,,nats://b:4222", "products"])
        self.assertEqual(usage.exception.code, 2)


class _quiet:
    """Silences argparse's usage message on stderr for one block."""

    def __enter__(self):
        import io
        import sys

        self._stderr, sys.stderr = sys.stderr, io.StringIO()

    def __exit__(self, *exc):
        import sys

        sys.stderr = self._stderr
        return False


if __name__ == "__main__":
    unittest.main()
