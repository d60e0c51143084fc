"""The committed manifest.json — what tools, broker permissions and the compose file read
without running loyalty — is what its declaration (`component.py`) implies."""

import json
import unittest
from pathlib import Path

from loyalty.component import component


class Manifest(unittest.TestCase):
    def test_the_committed_manifest_is_current(self):
        committed = json.loads((Path(__file__).parent.parent / "manifest.json").read_text())
        self.assertEqual(committed, component.manifest())


if __name__ == "__main__":
    unittest.main()
