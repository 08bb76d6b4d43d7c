# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restarts as state: what a compose service mounts becomes part of its definition.

Compose recreates a container when its service definition changes, but it does not look inside
the files a service bind-mounts. ``with_config_hashes`` finds, for every service of a rendered
compose file, the stack's managed files it mounts (bind-mount sources and ``env_file`` entries,
directories included) and writes a digest of them and of the service's own definition into the
label ``org.pivoine.kompose.config-hash``. The next ``docker compose up`` then recreates exactly
the services whose files changed, whatever happened between the render and the ``up`` (a
render-only run, a failed or a killed run): the desired state is on disk, not in a handler queue.

The same label lets the lifecycle tell, from one listing of the stack's containers, whether
``up`` would act at all (``stack_drift``): a label that differs, a container that is missing,
stopped or not healthy, an image reference that resolves to another image, an orphan.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath

import yaml

LABEL = "org.pivoine.kompose.config-hash"
# every service of a stack carries its stack's name (the compose project's name): teardown, status
# and the drills find the site's containers by it
STACK_LABEL = "org.pivoine.kompose.stack"


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


def _definition(service, project):
    """The service's definition without the labels stamped on it (its digest, its stack: the project's
    name, which does not count either), and the project's other top-level keys."""
    service = dict(service or {})
    labels = service.get("labels")
    stamped = (LABEL, STACK_LABEL)
    if isinstance(labels, dict):
        service["labels"] = {k: v for k, v in labels.items() if k not in stamped}
    elif isinstance(labels, list):
        service["labels"] = [label for label in labels if str(label).split("=", 1)[0] not in stamped]
    if not service.get("labels", True):
        del service["labels"]  # stamped onto a service without labels: as if never stamped
    rest = {k: v for k, v in (project or {}).items() if k not in ("services", "name")}
    return json.dumps([service, rest], sort_keys=True, default=str).encode("utf-8")


def config_hashes(services, files, key=None, project=None):
    """{service: digest} over each service's definition and the managed ``files`` ({relative path: bytes}) it mounts.

    The definition counts (with the project's top-level networks and volumes) so that the label
    changes whenever compose would recreate the container: a run that renders and dies before
    ``up`` is still seen as drift by the next one. With ``key`` the digest is an HMAC, so that a
    label never lets anyone test a guess of a secret file's content.
    """
    out = {}
    for name, service in services.items():
        paths = sorted({path for source in mounted_sources(service or {}) for path in files if _covers(source, path)})
        digest = hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256) if key else hashlib.sha256()
        digest.update(_definition(service, project) + b"\0")
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
    """Return (compose text with the stack and config-hash labels, {service: digest}).

    Every service gets the label org.pivoine.kompose.stack (the project's ``name``) and, where
    ``config_hashes`` gives one, org.pivoine.kompose.config-hash."""
    try:
        project = yaml.safe_load(compose_text)
    except yaml.YAMLError as exc:
        raise ComposeError("the rendered compose.yaml is not valid YAML: %s" % exc) from None
    if not isinstance(project, dict) or not isinstance(project.get("services") or {}, dict):
        raise ComposeError("the rendered compose.yaml has no 'services' mapping")
    services = project.get("services") or {}
    stamps = {}
    if isinstance(project.get("name"), str):
        stamps = {name: {STACK_LABEL: project["name"]} for name in services}
    hashes = config_hashes(services, files, key, project)
    for name, digest in hashes.items():
        stamps.setdefault(name, {})[LABEL] = digest
    if not stamps:
        return compose_text, hashes
    for name, stamp in stamps.items():
        labels = services[name].get("labels")
        if labels is None:
            labels = services[name]["labels"] = {}
        if isinstance(labels, list):
            labels[:] = [label for label in labels if str(label).split("=", 1)[0] not in stamp] + [
                "%s=%s" % item for item in stamp.items()]
        else:
            labels.update(stamp)
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


def _health(status):
    """The health a container summary's Status text shows (Docker's list API has no field for it)."""
    for marker, health in (("(healthy)", "healthy"), ("(unhealthy)", "unhealthy"), ("(health: starting)", "starting")):
        if marker in (status or ""):
            return health
    return None


def not_ready(containers):
    """Names of the containers ``docker compose ps`` lists that are not running, or whose health check has not passed.

    ``containers`` are ``docker compose ps --format json`` entries (``Name``, ``State``, ``Health``:
    empty without a health check), as community.docker.docker_compose_v2 returns them. ``up --wait``
    should leave none; Compose 2.26 returns success when its ``--wait-timeout`` expires while a
    container is still starting, so the lifecycle asks this list instead of trusting the exit code.
    """
    out = []
    for container in containers or []:
        if container.get("State") != "running" or container.get("Health") in ("starting", "unhealthy"):
            name = container.get("Name") or "?"
            if name not in out:
                out.append(name)
    return out


def stack_drift(services, hashes, containers, images):
    """Why ``docker compose up`` would act on a stack: [] when it would change nothing.

    ``services`` is the rendered compose file's services mapping, ``hashes`` their config-hash
    labels (``with_config_hashes``), ``containers`` the project's container summaries (Docker's
    list API, all states), ``images`` each image reference to the id it resolves to now (None:
    not on the host). Each reason names the service and what differs.
    """
    reasons, seen = [], {}
    for container in containers or []:
        labels = container.get("Labels") or {}
        service = labels.get("com.docker.compose.service")
        seen.setdefault(service, []).append(container)
        if service not in services:
            reasons.append("%s: orphan container %s" % (service, _name(container)))
    for name in sorted(services):
        running = seen.get(name) or []
        if not running:
            reasons.append("%s: no container" % name)
            continue
        image = (services[name] or {}).get("image")
        for container in running:
            labels = container.get("Labels") or {}
            state, health = container.get("State"), _health(container.get("Status"))
            if labels.get(LABEL) != hashes.get(name):
                reasons.append("%s: definition or mounted files changed" % name)
            elif state != "running":
                reasons.append("%s: %s" % (name, state))
            elif health not in (None, "healthy"):
                reasons.append("%s: %s" % (name, health))
            elif image is not None and images.get(image) != container.get("ImageID"):
                reasons.append("%s: %s resolves to %s, the container runs %s"
                               % (name, image, images.get(image) or "no image on the host", container.get("ImageID")))
            else:
                reason = _network_drift(services[name] or {}, container)
                if reason:
                    reasons.append("%s: %s" % (name, reason))
    return reasons


def _network_drift(service, container):
    """How a container's networks differ from its service's ``networks`` (external networks, keyed by
    their names) or ``network_mode: none``; None when they match or the service names neither (e.g.
    a network that was made again, or that someone disconnected it from)."""
    if isinstance(service.get("networks"), dict):
        wanted = set(service["networks"])
    elif service.get("network_mode") == "none":
        wanted = {"none"}
    else:
        return None
    attached = set(((container.get("NetworkSettings") or {}).get("Networks") or {}))
    missing, extra = sorted(wanted - attached), sorted(attached - wanted)
    if not missing and not extra:
        return None
    return "networks differ (%s)" % "; ".join(
        part for part in ("not on " + ", ".join(missing) if missing else "", "also on " + ", ".join(extra) if extra else "") if part)


def _name(container):
    names = container.get("Names") or ["?"]
    return names[0].lstrip("/")


def upgrading(services, containers, holders):
    """Services holding data (their ``container_name`` in ``holders``) whose container runs another image reference.

    [{service, container, from, to}]: the image such a service starts may migrate its data on
    first start, so the lifecycle backs up the site before ``up``.
    """
    out = []
    for container in containers or []:
        service = (container.get("Labels") or {}).get("com.docker.compose.service")
        wanted = services.get(service) or {}
        name = wanted.get("container_name") or _name(container)
        if name in holders and wanted.get("image") and container.get("Image") != wanted["image"]:
            out.append({"service": service, "container": name, "from": container.get("Image"), "to": wanted["image"]})
    return sorted(out, key=lambda entry: entry["service"])
