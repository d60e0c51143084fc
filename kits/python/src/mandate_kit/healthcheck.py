"""A container healthcheck for a component in Python: `python -m mandate_kit.healthcheck NAME`
exits 0 when the running component answers a ping of its own service (`$SRV.PING.<name>`,
which its bus user may send), 1 otherwise. The Python kit has no metrics listener yet, so this
proves less than the Rust kit's `--healthcheck` (`/readyz`): connected and serving, not that
every consumer is seated (docs/operate.md)."""

from __future__ import annotations

import asyncio
import sys

from .config import Config
from .connect import connect

TIMEOUT_SECONDS = 3.0


async def check(name: str) -> str | None:
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


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m mandate_kit.healthcheck COMPONENT", file=sys.stderr)
        return 1
    failure = asyncio.run(check(sys.argv[1]))
    if failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
