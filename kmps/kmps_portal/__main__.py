"""``python -m kmps_portal run | check | health``.

- ``run --config FILE``: the portal (uvicorn; logs to stderr, one line per notable thing, never a
  secret);
- ``check --config FILE [--no-env]``: validate the config; exit 0, or 1 with the error naming the
  key and the value. ``--no-env`` skips the check that the environment variables it names are
  set (to check a file outside the container);
- ``health [--url URL]``: exit 0 when the portal's ``/healthz`` answers 200 within 2 s, else 1
  (the container's health check: the standard library only, no config needed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import urllib.error
import urllib.request

DEFAULT_CONFIG = "/etc/kmps/config.json"
DEFAULT_HEALTH_URL = "http://127.0.0.1:8080/healthz"
HEALTH_TIMEOUT = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmps_portal", description="KMPS, the Kompose management portal.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the portal")
    run.add_argument("--config", default=DEFAULT_CONFIG, help=f"the config file (default: {DEFAULT_CONFIG})")
    check = commands.add_parser("check", help="validate a config file")
    check.add_argument("--config", default=DEFAULT_CONFIG, help=f"the config file (default: {DEFAULT_CONFIG})")
    check.add_argument("--no-env", action="store_true", help="do not require the named environment variables")
    health = commands.add_parser("health", help="ask a running portal whether it is healthy")
    health.add_argument("--url", default=DEFAULT_HEALTH_URL, help=f"its health URL (default: {DEFAULT_HEALTH_URL})")
    args = parser.parse_args(argv)
    if args.command == "run":
        return command_run(args.config)
    if args.command == "check":
        return command_check(args.config, check_env=not args.no_env)
    return command_health(args.url)


def command_run(path: str) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request's URL at INFO; the portal logs what matters itself
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from .config import load_config
    from .errors import ConfigError

    try:
        config = load_config(path, os.environ)
    except ConfigError as error:
        logging.getLogger("kmps").error("config: %s", error)
        return 1
    import uvicorn

    from .app import build_portal, create_app

    app = create_app(build_portal(config, os.environ))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.listen_host,
            port=config.listen_port,
            log_config=None,  # the logging set up above
            access_log=False,
            server_header=False,
            proxy_headers=False,  # the client address is Traefik's; identity comes from its headers
            lifespan="on",
        )
    )
    try:
        server.run()
    except OSError as error:  # e.g. the listen port is taken
        logging.getLogger("kmps").error("cannot start: %s", error)
        return 1
    return 0 if server.started else 1


def command_check(path: str, check_env: bool = True) -> int:
    from .config import load_config
    from .errors import ConfigError

    try:
        config = load_config(path, os.environ, check_env)
    except ConfigError as error:
        print(f"kmps: {error}", file=sys.stderr)
        return 1
    print(
        f"{path}: ok: realm {config.keycloak.realm}, {len(config.site.stacks)} stack(s), "
        f"{len(config.site.services)} service(s); secrets from {', '.join(config.secret_names())}"
    )
    return 0


def command_health(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=HEALTH_TIMEOUT) as answer:
            status = answer.status
            body = answer.read(4096)
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read(4096)
    except (OSError, ValueError) as error:
        print(f"unhealthy: {url}: {getattr(error, 'reason', error)}")
        return 1
    text = body.decode("utf-8", "replace").strip()
    print(f"{'healthy' if status == 200 else 'unhealthy'}: HTTP {status} {text}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
