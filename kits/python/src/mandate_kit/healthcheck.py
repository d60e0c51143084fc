"""A container healthcheck for a component in Python: `python -m mandate_kit.healthcheck NAME`
exits 0 when the running component is healthy, 1 otherwise, saying why on stderr — as the
Rust kit's `--healthcheck` does (docs/operate.md, "The healthcheck"):

- with `MANDATE_METRICS` set (the component's listener is on), it asks the listener's
  `/readyz` (`0.0.0.0` and `::` asked on the loopback): healthy when it answers 200 — connected,
  every consumer seated, not rebuilding, the outbox not wedged;
- without it, it pings the component's own service (`$SRV.PING.<name>`, which its bus user may
  send): connected and serving, which proves less.

It needs nothing but the kit (the image has no curl or wget)."""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import os
import sys
from typing import Mapping, Optional

from .config import Config, ConfigError, parse_metrics_addr
from .connect import connect

TIMEOUT_SECONDS = 3.0


def ready(address: tuple[str, int]) -> Optional[str]:
    """None when the listener at `address` answers `/readyz` with 200, otherwise why not."""
    ip, port = address
    if ipaddress.ip_address(ip).is_unspecified:
        ip = "::1" if ":" in ip else "127.0.0.1"
    url = f"http://{f'[{ip}]' if ':' in ip else ip}:{port}/readyz"
    connection = http.client.HTTPConnection(ip, port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/readyz")
        answer = connection.getresponse()
        body = answer.read().decode(errors="replace").strip()
    except OSError as err:
        return f"cannot ask {url}: {err}"
    finally:
        connection.close()
    if answer.status == 200:
        return None
    return f"not ready (HTTP {answer.status} from {url}): {body}"


async def answers_ping(name: str) -> Optional[str]:
    """None when `name` answers its ping, otherwise why not."""
    config = Config.from_env(name)
    config = Config(**{**config.__dict__, "connect_timeout_seconds": TIMEOUT_SECONDS})
    try:
        nc = await connect(config)
    except Exception as err:  # noqa: BLE001 - any failure is "not healthy", said plainly
        return f"cannot connect to {','.join(config.servers)}: {err}"
    try:
        await nc.request(f"$SRV.PING.{name}", b"", timeout=TIMEOUT_SECONDS)
        return None
    except Exception as err:  # noqa: BLE001
        return f"{name} does not answer $SRV.PING.{name}: {err!r}"
    finally:
        await nc.close()


def check(name: str, env: Mapping[str, str] = os.environ) -> Optional[str]:
    """None when `name` is healthy, otherwise why not: its `/readyz` when its listener is on
    (`MANDATE_METRICS`), its ping otherwise."""
    if env.get("MANDATE_METRICS"):
        try:
            return ready(parse_metrics_addr(env["MANDATE_METRICS"]))
        except ConfigError as err:
            return str(err)
    return asyncio.run(answers_ping(name))


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m mandate_kit.healthcheck COMPONENT", file=sys.stderr)
        return 1
    failure = check(sys.argv[1])
    if failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
