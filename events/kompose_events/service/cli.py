"""``kompose-events run | check | health``.

- ``run --config FILE``: the service (logs to stderr, one line per notable thing, never a secret);
- ``check --config FILE [--no-env]``: validate the config and its rules; exit 0, or 1 with the
  error naming the key and the value. ``--no-env`` skips the check that the environment
  variables it names are set (to check a file outside the container);
- ``health [--url URL]``: exit 0 when the engine's ``/healthz`` answers 200 within 2 s, else 1
  (no config needed; the container's health check runs the same check as
  ``python -m kompose_events.health``, which imports less).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import health as health_check

DEFAULT_CONFIG = "/etc/kompose-events/config.json"
DEFAULT_HEALTH_URL = health_check.DEFAULT_URL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kompose-events", description="Kompose's event engine.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the engine")
    run.add_argument("--config", default=DEFAULT_CONFIG, help=f"the config file (default: {DEFAULT_CONFIG})")
    check = commands.add_parser("check", help="validate a config file and its rules")
    check.add_argument("--config", default=DEFAULT_CONFIG, help=f"the config file (default: {DEFAULT_CONFIG})")
    check.add_argument("--no-env", action="store_true", help="do not require the named environment variables")
    health = commands.add_parser("health", help="ask a running engine whether it is healthy")
    health.add_argument("--url", default=DEFAULT_HEALTH_URL, help=f"its health URL (default: {DEFAULT_HEALTH_URL})")
    args = parser.parse_args(argv)
    if args.command == "run":
        return command_run(args.config)
    if args.command == "check":
        return command_check(args.config, check_env=not args.no_env)
    return command_health(args.url)


def command_run(path: str) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    from ..errors import EventsError
    from .config import load_config

    try:
        config = load_config(path, os.environ)
    except EventsError as error:
        logging.getLogger(__name__).error("config: %s", error)
        return 1
    from .app import run  # imports paho-mqtt (and redis when configured)

    try:
        return run(config)
    except OSError as error:  # e.g. the listen port is taken
        logging.getLogger(__name__).error("cannot start: %s", error)
        return 1


def command_check(path: str, check_env: bool = True) -> int:
    from ..errors import EventsError
    from .config import load_config

    try:
        config = load_config(path, os.environ, check_env)
    except EventsError as error:
        print(f"kompose-events: {error}", file=sys.stderr)
        return 1
    sources = ", ".join(source.name for source in config.sources) or "none"
    print(f"{path}: ok: {len(config.rules)} rule(s), sources: {sources}")
    return 0


def command_health(url: str) -> int:
    healthy, line = health_check.check(url)
    print(line)
    return 0 if healthy else 1
