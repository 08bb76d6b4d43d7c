"""molecule/default/files/app_login.py without a browser: its arguments and its setup checks."""

from __future__ import annotations

import importlib.util
import os

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "molecule", "default", "files", "app_login.py")


def _load():
    spec = importlib.util.spec_from_file_location("kompose_app_login", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app_login = _load()


def test_arguments_and_defaults():
    args = app_login.parse_args(["lab.test", "/ca.pem", "/secrets", "/shots", "--app-url", "https://rss.lab.test/",
                                 "--link-text", "Sign in with Keycloak"])
    assert (args.domain, args.app_url, args.link_text) == ("lab.test", "https://rss.lab.test/", "Sign in with Keycloak")
    assert args.account_path == "/" and args.logout_selector == 'form[action$="/logout"] [type=submit]'
    assert args.realm == "kompose" and args.timeout == 30


def test_setup_without_the_browser_or_the_users_secret_exits_2(tmp_path, capsys):
    argv = ["lab.test", "/ca.pem", str(tmp_path), str(tmp_path / "shots"), "--app-url", "https://rss.lab.test/",
            "--link-text", "x", "--chromium", str(tmp_path / "no-chromium")]
    assert app_login.main(argv) == 2
    assert "FAIL setup: needs Debian's chromium" in capsys.readouterr().err
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("chromium", "chromedriver", "certutil"):
        (fake / name).write_text("#!/bin/sh\n")
        (fake / name).chmod(0o755)
    old = os.environ["PATH"]
    os.environ["PATH"] = "%s:%s" % (fake, old)
    try:
        argv = argv[:-2] + ["--chromium", str(fake / "chromium"), "--chromedriver", str(fake / "chromedriver")]
        assert app_login.main(argv) == 2
    finally:
        os.environ["PATH"] = old
    assert "FAIL setup: no secret keycloak-lab-user in %s" % tmp_path in capsys.readouterr().err
