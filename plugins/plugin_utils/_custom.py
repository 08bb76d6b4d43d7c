# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Custom stacks: a self-hoster's own services, declared in the inventory, run like the built-in stacks.

``kompose_custom_stacks`` (merged from every variable ``kompose_custom_stacks`` / ``kompose_custom_stacks__*``
in name order, see ``merge_layers``) maps a stack name to ``{enabled, description, requires, services}``.
Each service is a catalog entry (the same keys as the built-in services: host, middleware, paths,
postgres, redis, mqtt, smtp, oidc, metrics, health, secrets, volumes, depends_on, hardening, ...) plus
what the collection needs to write its compose service: ``image``, ``command``, ``entrypoint``,
``environment``, ``volumes`` (a mapping of name to mount path), ``healthcheck`` and ``ca_file``.

``registry`` turns the declaration into stack registry entries whose ``catalog`` holds one catalog
entry per service; the compose-only keys go into the entry's ``run`` key, which ``compose`` and
``env_file`` render. Environment values are literal strings or references, ``{ref: <name>}``, resolved
at render time to values the collection owns (``REFS``); secret ones go only into the service's 0600
env file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

STACK_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DURATION_RE = re.compile(r"^[0-9]+(ms|s|m|h)$")
MOUNT_RE = re.compile(r"^/[A-Za-z0-9._/-]*$")
STACK_KEYS = ("enabled", "description", "requires", "services")
# what only a custom service has: how to run its container (the entry's `run` once declared)
RUN_KEYS = ("command", "entrypoint", "environment", "volumes", "healthcheck", "ca_file")
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "retries", "start_period", "start_interval")
# reference -> (catalog key the entry needs, whether the value is a secret)
REFS = {
    "url": ("host", False),
    "host": ("host", False),
    "postgres.url": ("postgres", True),
    "postgres.host": ("postgres", False),
    "postgres.port": ("postgres", False),
    "postgres.database": ("postgres", False),
    "postgres.user": ("postgres", False),
    "postgres.password": ("postgres", True),
    "redis.url": ("redis", True),
    "redis.host": ("redis", False),
    "redis.port": ("redis", False),
    "redis.user": ("redis", False),
    "redis.password": ("redis", True),
    "redis.prefix": ("redis", False),
    "mqtt.host": ("mqtt", False),
    "mqtt.port": ("mqtt", False),
    "mqtt.user": ("mqtt", False),
    "mqtt.password": ("mqtt", True),
    "oidc.client_id": ("oidc", False),
    "oidc.secret": ("oidc", True),
    "oidc.issuer": ("oidc", False),
    "oidc.discovery_url": ("oidc", False),
    "oidc.redirect_url": ("oidc", False),
    "smtp.host": ("smtp", False),
    "smtp.port": ("smtp", False),
}
SECRET_REF_RE = re.compile(r"^secrets\.([a-z][a-z0-9_-]{0,62})$")


class CustomError(ValueError):
    pass


def plain(value):
    """A plain copy of mappings and lists (Ansible passes lazy containers that are slow to deep-copy)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def merge(base, override):
    """``override`` over ``base``: mappings key by key, anything else replaced."""
    out = plain(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = plain(value)
    return out


def merge_layers(layers, name):
    """One mapping from the layers of a variable (``name``, then ``name__*`` in name order: the group's,
    then a host's additions): each merged over the ones before, mappings key by key, so a host adds or
    changes one service or one stack without restating the group's. ``None`` layers count as empty."""
    if isinstance(layers, Mapping):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise CustomError("%s: expected a mapping (or a list of mappings to merge), got %r" % (name, layers))
    out = {}
    for index, layer in enumerate(layers):
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise CustomError("%s: layer %d (the variables %s, %s__*: merged in name order) is not a mapping: %r"
                              % (name, index, name, name, layer))
        out = merge(out, layer)
    return out


def _check_env(where, environment, entry):
    if not isinstance(environment, Mapping):
        raise CustomError("%s: expected a mapping of variable name to a value or {ref: name}, got %r" % (where, environment))
    for key, value in environment.items():
        here = "%s.%s" % (where, key)
        if not isinstance(key, str) or not ENV_NAME_RE.fullmatch(key):
            raise CustomError("%s: %r is not an environment variable name (letters, digits, _)" % (where, key))
        if isinstance(value, Mapping):
            if set(value) != {"ref"} or not isinstance(value["ref"], str):
                raise CustomError("%s: %r is not a reference: write {ref: <name>} (%s)" % (here, plain(value), _ref_names()))
            _check_ref(here, value["ref"], entry)
        elif value is None or isinstance(value, (list, dict)):
            raise CustomError("%s: %r is neither a value (string, number, boolean) nor {ref: <name>}" % (here, value))
        elif isinstance(value, str) and "\n" in value:
            raise CustomError("%s: a value spans more than one line" % here)


def _ref_names():
    return "references: %s, secrets.<purpose>" % ", ".join(sorted(REFS))


def _check_ref(where, ref, entry):
    match = SECRET_REF_RE.fullmatch(ref)
    if match:
        if match.group(1) not in (entry.get("secrets") or {}):
            raise CustomError("%s: {ref: %s} names the secret %r, which the service does not declare: add it to its "
                              "secrets (for example `secrets: {%s: {}}`)" % (where, ref, match.group(1), match.group(1)))
        return
    if ref not in REFS:
        raise CustomError("%s: {ref: %s} is not a known reference (%s)" % (where, ref, _ref_names()))
    key = REFS[ref][0]
    if entry.get(key) is None or entry.get(key) is False:
        raise CustomError("%s: {ref: %s} needs the service's %r key (it has none)" % (where, ref, key))
    if ref in ("postgres.url", "postgres.database") and isinstance(entry["postgres"], Mapping) \
            and "database" in entry["postgres"] and entry["postgres"]["database"] is None:
        raise CustomError("%s: {ref: %s}, but the service's postgres.database is null (a login role only)" % (where, ref))


def _check_healthcheck(where, spec):
    if not isinstance(spec, Mapping) or "test" not in spec or set(spec) - set(HEALTHCHECK_KEYS):
        raise CustomError("%s: expected a mapping with test and optionally %s, got %r"
                          % (where, ", ".join(HEALTHCHECK_KEYS[1:]), plain(spec)))
    test = spec["test"]
    if isinstance(test, str):
        ok = bool(test.strip())
    else:
        ok = isinstance(test, (list, tuple)) and len(test) >= 2 and test[0] in ("CMD", "CMD-SHELL") \
            and all(isinstance(part, str) for part in test)
    if not ok:
        raise CustomError("%s.test: %r is neither a shell command (a string) nor a list starting with CMD or CMD-SHELL"
                          % (where, plain(test)))
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in spec and not (isinstance(spec[key], str) and DURATION_RE.fullmatch(spec[key])):
            raise CustomError("%s.%s: %r is not a duration (e.g. 5s, 2m)" % (where, key, spec[key]))
    if "retries" in spec and (not isinstance(spec["retries"], int) or isinstance(spec["retries"], bool) or spec["retries"] < 1):
        raise CustomError("%s.retries: %r is not a whole number of at least 1" % (where, spec["retries"]))


def _check_command(where, value):
    if isinstance(value, str):
        return
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(part, (str, int)) for part in value):
        raise CustomError("%s: %r is neither a string nor a non-empty list of arguments" % (where, plain(value)))


def _service(stack, name, spec, where):
    """The catalog entry of one custom service; the compose-only keys go into its ``run``."""
    if not isinstance(spec, Mapping):
        raise CustomError("%s: expected a mapping, got %r" % (where, spec))
    if "stack" in spec:
        raise CustomError("%s.stack: %r: a custom service belongs to the stack it is declared in (%s)" % (where, spec["stack"], stack))
    # the catalog's keys (_catalog.ENTRY_KEYS) but stack and run, and the compose-only ones
    from ansible_collections.pivoine.kompose.plugins.plugin_utils._catalog import ENTRY_KEYS
    known = (set(ENTRY_KEYS) - {"stack", "run", "volumes"}) | set(RUN_KEYS)
    unknown = set(spec) - known
    if unknown:
        raise CustomError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(sorted(map(str, unknown))), ", ".join(sorted(known))))
    entry = {key: plain(value) for key, value in spec.items() if key not in RUN_KEYS}
    entry["stack"] = stack
    entry.setdefault("container", "%s_%s" % (stack, name))
    run = {}
    volumes = spec.get("volumes")
    if volumes is not None:
        if not isinstance(volumes, Mapping) or not volumes:
            raise CustomError("%s.volumes: expected a mapping of volume name to mount path, e.g. {data: /var/lib/app}, got %r"
                              % (where, plain(volumes)))
        mounts = {}
        for volume, path in volumes.items():
            if not isinstance(volume, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,40}", volume):
                raise CustomError("%s.volumes: %r is not a volume name (lower-case letters, digits, _ . -)" % (where, volume))
            if not isinstance(path, str) or not MOUNT_RE.fullmatch(path) or path == "/":
                raise CustomError("%s.volumes.%s: %r is not an absolute path in the container" % (where, volume, path))
            # compose volume <service>-<name>: unique on the site (a backup archives it as volumes/<name>.tar)
            mounts["%s-%s" % (name.replace("_", "-"), volume)] = path
        run["mounts"] = mounts
        entry["volumes"] = list(mounts)
    for key in ("command", "entrypoint"):
        if spec.get(key) is not None:
            _check_command("%s.%s" % (where, key), spec[key])
            run[key] = plain(spec[key])
    if spec.get("healthcheck") is not None:
        _check_healthcheck(where + ".healthcheck", spec["healthcheck"])
        run["healthcheck"] = plain(spec["healthcheck"])
    if spec.get("ca_file") is not None:
        if not isinstance(spec["ca_file"], str) or not MOUNT_RE.fullmatch(spec["ca_file"]) or spec["ca_file"].endswith("/"):
            raise CustomError("%s.ca_file: %r is not an absolute file path in the container" % (where, spec["ca_file"]))
        run["ca_file"] = spec["ca_file"]
    environment = spec.get("environment") or {}
    _check_env(where + ".environment", environment, entry)
    run["environment"] = plain(environment)
    entry["run"] = run
    return entry


def registry(custom, builtin_registry, builtin_catalog=None):
    """The whole stack registry: the built-in entries, then those of the custom stacks ``custom`` (merged
    ``kompose_custom_stacks``, or its layers) in name order: ``{name, requires, custom: true, description,
    catalog}``; stacks with ``enabled: false`` are left out (a dropped stack: reported, and removed by
    teardown.yml). Names may not collide with a built-in stack or a built-in service (enabled or not).
    One call for both, so that an error in the declaration reaches the user as it is."""
    return list(builtin_registry or []) + custom_entries(custom, builtin_registry, builtin_catalog)


def custom_entries(custom, builtin_registry, builtin_catalog=None):
    """The registry entries of the custom stacks alone (see registry); ``builtin_catalog`` defaults to the
    union of the built-in entries' catalogs."""
    if builtin_catalog is None:
        builtin_catalog = {name: entry for item in builtin_registry or [] if isinstance(item, Mapping)
                           for name, entry in (item.get("catalog") or {}).items()}
    where0 = "kompose_custom_stacks"
    custom = merge_layers(custom, where0) if not isinstance(custom, Mapping) else plain(custom)
    builtin_stacks = [item.get("name") for item in builtin_registry or []]
    builtin_services = set(builtin_catalog or {})
    out, seen = [], {}
    for stack in sorted(custom, key=str):
        spec = custom[stack]
        where = "%s.%s" % (where0, stack)
        if not isinstance(stack, str) or not STACK_RE.fullmatch(stack):
            raise CustomError("%s: %r is not a stack name (lower-case letters, digits, _; at most 31)" % (where0, stack))
        if stack in builtin_stacks:
            raise CustomError("%s: %r is the name of a built-in stack (%s)" % (where0, stack, ", ".join(builtin_stacks)))
        if not isinstance(spec, Mapping):
            raise CustomError("%s: expected a mapping with services, got %r" % (where, spec))
        unknown = set(spec) - set(STACK_KEYS)
        if unknown:
            raise CustomError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(sorted(map(str, unknown))), ", ".join(STACK_KEYS)))
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise CustomError("%s.enabled: %r is not a boolean" % (where, enabled))
        requires = spec.get("requires") or []
        if not isinstance(requires, (list, tuple)) or not all(isinstance(r, str) for r in requires):
            raise CustomError("%s.requires: %r is not a list of stack names" % (where, requires))
        if spec.get("description") is not None and not isinstance(spec["description"], str):
            raise CustomError("%s.description: %r is not a string" % (where, spec["description"]))
        services = spec.get("services")
        if not isinstance(services, Mapping) or not services:
            raise CustomError("%s.services: expected a mapping of service name to its settings, got %r" % (where, plain(services)))
        catalog = {}
        for name in sorted(services, key=str):
            here = "%s.services.%s" % (where, name)
            if name in builtin_services:
                raise CustomError("%s: %r is the name of a built-in service (of the %s stack)"
                                  % (here, name, builtin_catalog[name].get("stack")))
            if name in seen:
                raise CustomError("%s: %r is already a service of the custom stack %s" % (here, name, seen[name]))
            seen[name] = stack
            catalog[name] = _service(stack, name, services[name], here)
        # a stack whose services keep data in the core servers needs the core stack (the order of a run,
        # and teardown.yml keeps the core while it runs)
        if "core" not in requires and any(entry.get(key) is not None for entry in catalog.values()
                                          for key in ("postgres", "redis", "mqtt")):
            requires = ["core"] + list(requires)
        if enabled:
            out.append({"name": stack, "requires": list(requires), "custom": True,
                        "description": spec.get("description") or "custom stack %s" % stack, "catalog": catalog})
    return out


def origins(registry_entries):
    """Service -> where the inventory declares it, for the custom stacks of a registry."""
    return {name: "kompose_custom_stacks.%s.services.%s" % (item["name"], name)
            for item in registry_entries or [] if isinstance(item, Mapping) and item.get("custom")
            for name in item.get("catalog") or {}}


def relocate(message, where):
    """A catalog error naming ``kompose_services.<service>`` (or ``kompose_images.<service>``) of a custom
    service, rewritten to name its declaration."""
    for name, origin in where.items():
        message = re.sub(r"kompose_services\.%s\b" % re.escape(name), origin, message)
        message = re.sub(r"kompose_images\.%s\b" % re.escape(name), origin + ".image", message)
    return message


def check(resolved):
    """Rules about custom services that need the resolved catalog: what a reference names is enabled,
    a service another waits for has a health check."""
    for name, entry in sorted(resolved.items()):
        run = entry.get("run")
        if run is None:
            continue
        where = "kompose_services.%s" % name
        refs = [(key, value["ref"]) for key, value in (run.get("environment") or {}).items() if isinstance(value, Mapping)]
        for key, ref in refs:
            if ref.startswith("oidc.") and "keycloak" not in resolved:
                raise CustomError("%s.environment.%s: {ref: %s} needs Keycloak (the auth stack), which is not enabled"
                                  % (where, key, ref))
            if ref in ("url", "host") and "traefik" not in resolved:
                raise CustomError("%s.environment.%s: {ref: %s} needs the proxy stack, which is not enabled" % (where, key, ref))
        for other in entry.get("depends_on") or []:
            target = resolved.get(other)
            if target is not None and target.get("run") is not None and not target["run"].get("healthcheck"):
                raise CustomError("%s.depends_on: %r has no healthcheck: the service starts once it is healthy, so "
                                  "declare its healthcheck" % (where, other))


def refs_matching(catalog, pattern):
    """Where the custom services' references whose name matches ``pattern`` (a regular expression) are
    declared: ``kompose_custom_stacks.<stack>.services.<service>.environment.<NAME>``, sorted."""
    out = []
    for name, entry in sorted(catalog.items()):
        for key, value in ((entry.get("run") or {}).get("environment") or {}).items():
            if isinstance(value, Mapping) and re.search(pattern, value["ref"]):
                out.append("kompose_custom_stacks.%s.services.%s.environment.%s" % (entry["stack"], name, key))
    return out


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _secret(secrets, name, service):
    if not isinstance(secrets, Mapping) or name not in secrets:
        raise CustomError("secret %r of service %r is missing from the store" % (name, service))
    return str(secrets[name])


def _resolve(catalog, service, entry, ref, secrets, settings):
    match = SECRET_REF_RE.fullmatch(ref)
    if match:
        return _secret(secrets, "%s-%s" % (service, match.group(1)), service)
    kind, dummy, part = ref.partition(".")
    if ref in ("url", "host"):
        return ("https://%s" % entry["fqdn"]) if ref == "url" else entry["fqdn"]
    if kind == "postgres":
        spec = entry["postgres"] if isinstance(entry["postgres"], Mapping) else {}
        database = spec.get("database", service)
        owner = spec.get("owner", database if database is not None else service)
        server = catalog["postgres"]
        password = _secret(secrets, "postgres-%s" % owner, service) if part in ("url", "password") else None
        values = {"host": server["container"], "port": server["port"], "database": database, "user": owner, "password": password}
        if part == "url":
            return "postgres://%s:%s@%s:%s/%s?sslmode=disable" % (
                quote(owner, safe=""), quote(password, safe=""), server["container"], server["port"], database)
        return _value(values[part])
    if kind == "redis":
        spec = entry["redis"] if isinstance(entry["redis"], Mapping) else {}
        user = spec.get("user", service)
        server = catalog["redis"]
        if part == "prefix":
            return "%s:" % service
        if part in ("url", "password"):
            password = _secret(secrets, "redis-%s" % user, service)
            if part == "password":
                return password
            return "redis://%s:%s@%s:%s" % (quote(user, safe=""), quote(password, safe=""), server["container"], server["port"])
        return _value({"host": server["container"], "port": server["port"], "user": user}[part])
    if kind == "mqtt":
        spec = entry["mqtt"] if isinstance(entry["mqtt"], Mapping) else {}
        user = spec.get("user", service)
        server = catalog["mqtt"]
        if part == "password":
            return _secret(secrets, "mqtt-%s" % user, service)
        return _value({"host": server["container"], "port": server["port"], "user": user}[part])
    if kind == "oidc":
        oidc = entry["oidc"] if isinstance(entry["oidc"], Mapping) else {}
        issuer = "https://%s/realms/%s" % (catalog["keycloak"]["fqdn"], settings["realm"])
        if part == "secret":
            return _secret(secrets, "%s-%s" % (service, oidc.get("secret", "oidc")), service)
        if part == "client_id":
            return oidc.get("client_id", service.replace("_", "-"))
        if part == "issuer":
            return issuer
        if part == "discovery_url":
            return issuer + "/.well-known/openid-configuration"
        paths = oidc.get("redirect_paths") or ["/"]
        return "https://%s%s" % (entry["fqdn"], paths[0])
    # smtp
    if not settings.get("smtp_host"):
        raise CustomError("kompose_services.%s: {ref: %s}, but the site has no mail relay (kompose_smtp_host is empty)" % (service, ref))
    return _value(settings["smtp_host"] if part == "host" else settings["smtp_port"])


def is_secret(ref):
    return bool(SECRET_REF_RE.fullmatch(ref)) or REFS.get(ref, (None, False))[1]


def env_file(catalog, service, secrets, settings):
    """The 0600 env file of ``service``: its secret references, one ``NAME='value'`` a line (compose reads a
    single-quoted value literally: no ``$`` expansion); empty when it has none."""
    entry = catalog[service]
    lines = []
    for key, ref in entry["run"]["environment"].items():
        if not (isinstance(ref, Mapping) and is_secret(ref["ref"])):
            continue
        value = _resolve(catalog, service, entry, ref["ref"], secrets, settings)
        if "'" in value or "\n" in value:
            raise CustomError("kompose_custom_stacks.%s.services.%s.environment.%s: its value holds a quote or a line "
                              "break, which an env file cannot carry" % (entry["stack"], service, key))
        lines.append("%s='%s'" % (key, value))
    if not lines:
        return ""
    return "# Managed by pivoine.kompose: %s's secret settings (mode 0600).\n%s\n" % (service, "\n".join(lines))


def has_secrets(catalog, service):
    return any(isinstance(value, Mapping) and is_secret(value["ref"])
               for value in (catalog[service].get("run") or {}).get("environment", {}).values())


def compose(catalog, stack, service_keys, networks, settings):
    """The compose project of custom stack ``stack``: each enabled service with its image, container, the
    collection's keys (networks, hardening, depends_on: ``service_keys``), its command, environment (the
    non-secret values; secrets in ``./<service>.env``), volumes, health check (interval: the site's).
    ``settings``: health_interval, health_start_interval, ca_bundle (whether the site has extra CAs), realm, smtp_host, smtp_port."""
    services, volumes = {}, {}
    for name, entry in sorted(catalog.items()):
        if entry.get("stack") != stack or entry.get("run") is None:
            continue
        run = entry["run"]
        svc = {"image": entry["image"], "container_name": entry["container"]}
        svc.update(plain(service_keys.get(name) or {}))
        svc["restart"] = "unless-stopped"
        for key in ("entrypoint", "command"):
            if key in run:
                svc[key] = _escape(run[key])
        if has_secrets(catalog, name):
            svc["env_file"] = ["./%s.env" % name]
        environment = {}
        for key, value in run.get("environment", {}).items():
            if isinstance(value, Mapping):
                if is_secret(value["ref"]):
                    continue
                environment[key] = _escape(_resolve(catalog, name, entry, value["ref"], {}, settings))
            else:
                environment[key] = _escape(_value(value))
        if environment:
            svc["environment"] = environment
        mounts = ["%s:%s" % (volume, path) for volume, path in run.get("mounts", {}).items()]
        if run.get("ca_file") and settings.get("ca_bundle"):
            mounts.append("./ca.pem:%s:ro" % run["ca_file"])
        if mounts:
            svc["volumes"] = mounts
        volumes.update({volume: {} for volume in run.get("mounts", {})})
        if run.get("healthcheck"):
            check_spec = dict(run["healthcheck"])
            test = check_spec.pop("test")
            svc["healthcheck"] = dict({"test": _escape(test if isinstance(test, str) else list(test)),
                                       "interval": "%ss" % int(settings["health_interval"]),
                                       "start_interval": "%ss" % int(settings["health_start_interval"]),
                                       "start_period": "30s", "timeout": "5s", "retries": 10},
                                      **check_spec)
        services[name] = svc
    out = {"name": stack, "services": services}
    if volumes:
        out["volumes"] = volumes
    out["networks"] = plain(networks)
    return out


def _escape(value):
    """Compose interpolates ``$`` in the compose file: a literal dollar is ``$$``."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escape(str(item)) for item in value]
    return value


def files(catalog, stack, secrets, settings, ca_bundle=""):
    """The files a custom stack renders besides its compose file: ``<service>.env`` (mode 0600) for each
    service with secret references, and ``ca.pem`` (the site's extra CAs) when a service names ``ca_file``."""
    out, ca = [], False
    for name, entry in sorted(catalog.items()):
        if entry.get("stack") != stack or entry.get("run") is None:
            continue
        if has_secrets(catalog, name):
            out.append({"path": "%s.env" % name, "secret_content": env_file(catalog, name, secrets, settings), "mode": "0600"})
        ca = ca or bool(entry["run"].get("ca_file"))
    if ca and ca_bundle:
        out.append({"path": "ca.pem", "content": ca_bundle})
    return out
