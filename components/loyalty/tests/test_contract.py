"""What loyalty publishes and answers is what the contract says (schemas/json, generated from
`schemas::loyalty`): every field of each schema, nothing else, read back strictly."""

import unittest

from fixtures import CONTRACT, StoreCase, completed, refunded
from mandate_client import envelope
from mandate_client.strict import decode

from loyalty import component, ledger


class Contract(StoreCase):
    def assert_fits(self, body, schema):
        self.assertEqual(set(body), set(schema["properties"]))
        self.assertEqual(decode(envelope.encode(body), schema), body)

    def test_events_and_the_balance_have_the_contracts_fields(self):
        with self.store.transaction() as tx:
            emits = ledger.on_refunded(tx, refunded()) + ledger.on_completed(tx, completed())
        self.assertEqual([e.type for e in emits], [ledger.AWARDED, ledger.REVERSED])
        for emit in emits:
            self.assert_fits(emit.body, CONTRACT.event(emit.type))
        balance = ledger.balance(self.store.db, "alice").body()
        self.assert_fits(balance, CONTRACT.response(component.BALANCE))
        self.assertIsNotNone(CONTRACT.request(component.BALANCE))


if __name__ == "__main__":
    unittest.main()
