"""``python -m bench [names...]``: run benchmark plugins against a fresh real stack."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bench.harness import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, Runner, discover, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="plugins to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the plugins and exit")
    parser.add_argument(
        "--quick", action="store_true", help="cap every load at 3 s (a smoke run, not figures)"
    )
    parser.add_argument("--workers", type=int, default=2, help="API worker processes (2)")
    args = parser.parse_args(argv)

    plugins = discover()
    if args.list:
        for name, module in plugins.items():
            print(f"{name:<16} {summary(module)}")
        return 0
    unknown = [n for n in args.names if n not in plugins]
    if unknown:
        parser.error(f"unknown plugin(s): {', '.join(unknown)} (see --list)")
    selected = {n: plugins[n] for n in args.names} if args.names else plugins
    runner = Runner(
        database_url=os.environ.get("LIFECIRCLE_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("LIFECIRCLE_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        workers=args.workers,
        max_duration_s=3.0 if args.quick else float("inf"),
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(runner.run(selected))
    return uvloop.run(runner.run(selected))


if __name__ == "__main__":
    sys.exit(main())
