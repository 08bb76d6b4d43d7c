# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate Traefik v3 file-provider files the way Traefik reads them.

Each file is parsed with a YAML parser and validated against the SchemaStore JSON schema
(draft-07); the schema is extended here only with keys newer than it (Traefik 3.2+). Then the
files are merged, as the file provider merges a directory, and every reference is resolved:
router -> middlewares and service, chain -> middlewares, errors -> service. Prints the merged
configuration as JSON; exits 1 naming every problem.
"""

import json
import sys

import jsonschema
import yaml

# Keys Traefik 3.2+ accepts that the stored schema predates (see schemas/README.md).
NEWER_KEYS = {
    "errorsMiddleware": {"statusRewrites": {"type": "object", "additionalProperties": {"type": "integer"}}},
    "forwardAuthMiddleware": {
        "headerField": {"type": "string"},
        "forwardBody": {"type": "boolean"},
        "maxBodySize": {"type": "integer"},
        "preserveLocationHeader": {"type": "boolean"},
        "preserveRequestMethod": {"type": "boolean"},
        "authSigninURL": {"type": "string"},
    },
}


def load_schema(path):
    with open(path, encoding="utf-8") as handle:
        schema = json.load(handle)
    for definition, keys in NEWER_KEYS.items():
        props = schema["definitions"][definition].setdefault("properties", {})
        for key, spec in keys.items():
            props.setdefault(key, spec)
    return schema


def references(config):
    http = config.get("http") or {}
    middlewares = http.get("middlewares") or {}
    services = http.get("services") or {}
    problems = []

    def middleware_ok(name):
        return "@" in name or name in middlewares

    def service_ok(name):
        return name.endswith("@internal") or "@" in name or name in services

    for name, router in (http.get("routers") or {}).items():
        for ref in router.get("middlewares", []):
            if not middleware_ok(ref):
                problems.append("router %s: middleware %r is not defined" % (name, ref))
        if not service_ok(router.get("service", "")):
            problems.append("router %s: service %r is not defined" % (name, router.get("service")))
    for name, middleware in middlewares.items():
        for ref in (middleware.get("chain") or {}).get("middlewares", []):
            if not middleware_ok(ref):
                problems.append("chain %s: middleware %r is not defined" % (name, ref))
        errors = middleware.get("errors")
        if errors and not service_ok(errors.get("service", "")):
            problems.append("errors middleware %s: service %r is not defined" % (name, errors.get("service")))
    return problems


def merge(into, config, where):
    problems = []
    for section, kinds in config.items():
        for kind, items in (kinds or {}).items():
            target = into.setdefault(section, {}).setdefault(kind, {})
            if not isinstance(items, dict):
                target.update({"value": items})
                continue
            for name, item in items.items():
                if name in target:
                    problems.append("%s: %s.%s.%s is defined twice" % (where, section, kind, name))
                target[name] = item
    return problems


def main(argv):
    schema = load_schema(argv[1])
    validator = jsonschema.Draft7Validator(schema)
    merged, problems = {}, []
    for path in argv[2:]:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
            problems.append("%s: %s: %s" % (path, "/".join(str(p) for p in error.absolute_path) or "(root)", error.message))
        problems.extend(merge(merged, config, path))
    problems.extend(references(merged))
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return 1
    json.dump(merged, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
