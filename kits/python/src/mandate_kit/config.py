"""What the process is started with (docs/contract.md, "A component in another language"):
the same environment every component of the storefront gets from the process runner,
`mandate dev` or the compose file."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

class ConfigError(ValueError):
    """An environment variable the component cannot work with."""


@dataclass(frozen=True)
class Config:
    # The component's name: its bus user, inbox prefix, consumers and store folder.
    name: str
    # `NATS_URL`: one server or a comma-separated list (a cluster).
    servers: list[str]
    user: Optional[str]
    password: Optional[str]
    # `$MANDATE_DATA_DIR/<name>`: the private store, nobody else's.
    store_dir: Path
    # As the kit's flags of the same names.
    batch_size: int = 256
    max_attempts: int = 5
    ack_wait_seconds: float = 30.0
    connect_timeout_seconds: float = 60.0
    stream_replicas: int = 1
    # `MANDATE_METRICS`: where `/metrics`, `/livez` and `/readyz` are served, (IP, PORT); off
    # when None (docs/operate.md).
    metrics: Optional[tuple[str, int]] = None
    # `MANDATE_OUTBOX_WEDGED_AFTER`: how long the outbox's head may wait to be published before
    # the component says it is not ready.
    outbox_wedged_after_seconds: float = 60.0
    # Fault injection for tests (as the Rust kit's `--fault lose-delivery`): lose the first
    # delivery of each consumer, as a dropped connection or a lost cluster node would.
    lose_first_delivery: bool = False

    @property
    def inbox_prefix(self) -> str:
        # A bus user may read only its own inbox: `_INBOX.<user>.>`.
        return f"_INBOX.{self.name}"

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] = os.environ) -> "Config":
        servers = [s.strip() for s in env.get("NATS_URL", "nats://127.0.0.1:4222").split(",") if s.strip()]
        if not servers:
            raise ConfigError("NATS_URL is empty: give a server URL or a comma-separated list")
        return cls(
            name=name,
            servers=servers,
            user=env.get("NATS_USER") or None,
            password=env.get("NATS_PASSWORD") or None,
            store_dir=Path(env.get("MANDATE_DATA_DIR", "data")) / name,
            batch_size=_number(env, "MANDATE_BATCH_SIZE", 256, 1, 10_000),
            max_attempts=_number(env, "MANDATE_MAX_ATTEMPTS", 5, 1, 1_000),
            stream_replicas=_number(env, "MANDATE_STREAM_REPLICAS", 1, 1, 5),
            metrics=parse_metrics_addr(env["MANDATE_METRICS"]) if env.get("MANDATE_METRICS") else None,
            outbox_wedged_after_seconds=_duration(env, "MANDATE_OUTBOX_WEDGED_AFTER", 60.0),
        )


def parse_metrics_addr(text: str) -> tuple[str, int]:
    """`MANDATE_METRICS`: IP:PORT (`[IPv6]:PORT`), as the Rust kit reads it — an IP, not a host
    name: what the listener binds is what the operator wrote. Refused saying what to write."""
    found = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([0-9.]+):(\d{1,5})", text.strip())
    try:
        if not found:
            raise ValueError(text)
        ip = ipaddress.ip_address(found.group(1) or found.group(3))
        port = int(found.group(2) or found.group(4))
        if port > 65535 or (ip.version == 6) != bool(found.group(1)):
            raise ValueError(text)
    except ValueError:
        raise ConfigError(
            f"MANDATE_METRICS=`{text}` is not an address to listen on: write IP:PORT, e.g. 127.0.0.1:9464 "
            "(this host only) or 0.0.0.0:9464 (every interface, as in a container)"
        ) from None
    return str(ip), port


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration as the Rust kit's flags take it (humantime): `60s`, `2m`, `1m30s`, `500ms`."""
    text = env.get(name)
    if not text:
        return default
    parts = re.findall(r"(\d+)\s*(ms|s|m|h)", text)
    if not parts or re.sub(r"\s", "", text) != "".join(f"{n}{u}" for n, u in parts):
        raise ConfigError(f"{name}={text!r} is not a duration: write e.g. 60s, 2m or 1m30s")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def _number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value
