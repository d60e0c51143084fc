"""Strict reading of what arrives (docs/contract.md, "Encoding" and "Headers"), by the
client package's rules — the kit's, by the same names: a subject the component handles, a
well-formed envelope whose `ce-type` and `ce-source` are the subject's, then a body that is
one MessagePack map as the event's JSON Schema says. The first broken rule is raised as a
`ContractError`; its rule is the dead letter's kind."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from mandate_client import envelope, strict
from mandate_client.strict import ContractError


def schemas(contract: strict.Contract, subjects: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event subject handled; fails at start-up, not on the first
    event, when the contract lacks one."""
    found = {}
    for subject in subjects:
        kind = subject.removeprefix("evt.")
        schema = contract.event(kind)
        if schema is None:
            raise FileNotFoundError(f"the contract at {contract.directory} has no schema for {kind}")
        found[subject] = schema
    return found


def read(
    subject: str,
    headers: Optional[Mapping[str, str]],
    payload: bytes,
    schemas: Mapping[str, Mapping[str, Any]],
) -> Any:
    """The body of an event on `subject` (one of those `schemas` has), or the rule it breaks."""
    subject = envelope.event_subject(subject)  # a keyed event: evt.<owner>.<event>.v<N>.<slot>.<key>
    if subject not in schemas:
        raise ContractError(strict.UNKNOWN_TYPE, "", f"no handler for subject {subject}")
    envelope.check_envelope(subject, headers)
    try:
        return strict.decode(payload, schemas[subject])
    except ContractError as err:
        raise ContractError(
            err.rule, err.path, f"payload does not decode as {subject.removeprefix('evt.')}: {err.message}"
        ) from None
