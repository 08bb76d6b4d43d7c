# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restarts as state: what a compose service mounts becomes part of its definition.

Compose recreates a container when its service definition changes, but it does not look inside
the files a service bind-mounts. ``with_config_hashes`` finds, for every service of a rendered
compose file, the stack's managed files it mounts (bind-mount sources and ``env_file`` entries,
directories included) and writes a digest of their contents into the label
``org.pivoine.kompose.config-hash``. The next ``docker compose up`` then recreates exactly the
services whose files changed, whatever happened between the render and the ``up`` (a render-only
run, a failed or a killed run): the desired state is on disk, not in a handler queue.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath

import yaml

LABEL = "org.pivoine.kompose.config-hash"


class ComposeError(ValueError):
    pass


def _relative(source):
    """The project-relative path of a bind-mount source, or None when it is not inside the project."""
    if not isinstance(source, str) or not source.startswith("."):
        return None  # named volumes and absolute host paths are not the stack's files
    path = posixpath.normpath(source)
    if path == "." or path.startswith("../"):
        return "" if path == "." else None
    return path


def mounted_sources(service):
    """Project-relative paths a compose service reads from the project directory."""
    sources = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source = volume.split(":", 1)[0]
        elif isinstance(volume, dict) and volume.get("type", "bind") == "bind":
            source = volume.get("source")
        else:
            continue
        sources.append(_relative(source))
    env_files = service.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, str) else env_files:
        sources.append(_relative(entry.get("path") if isinstance(entry, dict) else entry))
    return sorted({source for source in sources if source is not None})


def _covers(source, path):
    return source == "" or path == source or path.startswith(source + "/")


def config_hashes(services, files, key=None):
    """{service: digest} over the managed ``files`` ({relative path: bytes}) each service mounts.

    With ``key`` the digest is an HMAC, so that a label never lets anyone test a guess of a
    secret file's content. Services that mount none of the files get no digest.
    """
    out = {}
    for name, service in services.items():
        paths = sorted({path for source in mounted_sources(service or {}) for path in files if _covers(source, path)})
        if not paths:
            continue
        digest = hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256) if key else hashlib.sha256()
        for path in paths:
            digest.update(b"%s\0%s\0" % (path.encode("utf-8"), hashlib.sha256(files[path]).hexdigest().encode("ascii")))
        out[name] = digest.hexdigest()[:16]
    return out


def _header(text):
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def with_config_hashes(compose_text, files, key=None):
    """Return (compose text with the config-hash labels, {service: digest})."""
    try:
        project = yaml.safe_load(compose_text)
    except yaml.YAMLError as exc:
        raise ComposeError("the rendered compose.yaml is not valid YAML: %s" % exc) from None
    if not isinstance(project, dict) or not isinstance(project.get("services") or {}, dict):
        raise ComposeError("the rendered compose.yaml has no 'services' mapping")
    services = project.get("services") or {}
    hashes = config_hashes(services, files, key)
    if not hashes:
        return compose_text, hashes
    for name, digest in hashes.items():
        labels = services[name].get("labels")
        if labels is None:
            labels = services[name]["labels"] = {}
        if isinstance(labels, list):
            labels[:] = [label for label in labels if not str(label).startswith(LABEL + "=")] + ["%s=%s" % (LABEL, digest)]
        else:
            labels[LABEL] = digest
    body = yaml.safe_dump(project, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
    return _header(compose_text) + body, hashes


def stale_services(containers, hashes):
    """Services whose container's config-hash label differs from ``hashes`` (sorted names).

    ``containers`` are Docker's container summaries (``docker ps``/``docker_host_info``), each with
    ``Labels``; a service with a digest but no container at all is stale too.
    """
    seen = {}
    for container in containers or []:
        labels = container.get("Labels") or {}
        service = labels.get("com.docker.compose.service")
        if service is not None:
            seen.setdefault(service, set()).add(labels.get(LABEL))
    return sorted(name for name, digest in hashes.items() if seen.get(name) != {digest})
