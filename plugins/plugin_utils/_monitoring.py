# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitoring that wires itself: Prometheus jobs, alert rules and Grafana dashboards from the catalog.

Everything here reads the RESOLVED catalog (enabled services only, see ``_catalog.resolve``):

* ``scrape_configs``: one job per service with a ``metrics`` entry (Prometheus itself, every exporter,
  every application with a metrics endpoint), plus blackbox probes: HTTPS for every routed host, HTTP
  of every service's own health endpoint (``health``) inside the network, and TCP for the other
  internal services that nothing scrapes directly.
* ``alert_rules``: the rule groups whose services are enabled, each rule with ``severity`` and
  ``category`` labels and summary/description annotations.
* ``grafana_dashboards``: provisioned dashboards (JSON models) for what is enabled, from the
  dashboards each stack declares beside its catalog.

A service that is not in the catalog (its stack disabled, or ``enabled: false``) gets no job, no rule
and no dashboard panel.
"""

from __future__ import annotations

import json
import re

METRICS_KEYS = frozenset(("target", "port", "path", "scheme"))
TARGET_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?:[0-9]{1,5}$")
PATH_RE = re.compile(r"^/[A-Za-z0-9/_.~-]*$")
DURATION_RE = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")

# Job names of the blackbox probes.
JOB_HTTPS = "blackbox_https"
JOB_TCP = "blackbox_tcp"
JOB_HEALTH = "blackbox_health"


class MonitoringError(ValueError):
    pass


def _metrics_target(name, entry):
    """(target, path, scheme) of a service's ``metrics`` entry, validated."""
    spec = entry["metrics"]
    where = "kompose_services.%s.metrics" % name
    if not isinstance(spec, dict):
        raise MonitoringError("%s: expected a mapping with target/port/path/scheme, got %r" % (where, spec))
    unknown = set(spec) - METRICS_KEYS
    if unknown:
        raise MonitoringError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(sorted(unknown)), ", ".join(sorted(METRICS_KEYS))))
    target = spec.get("target")
    if target is None:
        port = spec.get("port", entry.get("port"))
        if not entry.get("container") or not port:
            raise MonitoringError("%s.target: service %r has no container and port to default to; set a target (host:port)" % (where, name))
        target = "%s:%s" % (entry["container"], port)
    if not isinstance(target, str) or not TARGET_RE.fullmatch(target) or not 0 < int(target.rsplit(":", 1)[1]) < 65536:
        raise MonitoringError("%s.target: %r is not host:port" % (where, target))
    path = spec.get("path", "/metrics")
    if not isinstance(path, str) or not PATH_RE.fullmatch(path):
        raise MonitoringError("%s.path: %r is not an absolute URL path" % (where, path))
    scheme = spec.get("scheme", "http")
    if scheme not in ("http", "https"):
        raise MonitoringError("%s.scheme: %r is neither http nor https" % (where, scheme))
    return target, path, scheme


def _labels(name, entry):
    return {"service": name, "stack": entry["stack"]}


def _probe_job(job, module, targets, prober, replacement="$1"):
    """A blackbox job: the target becomes the ``target`` parameter, the exporter the address."""
    return {
        "job_name": job,
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "static_configs": targets,
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target", "replacement": replacement},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": prober},
        ],
    }


def _health_target(name, entry):
    """http://<container>:<port><path> of a service's ``health`` entry (port: the entry's own by default)."""
    spec = entry["health"]
    where = "kompose_services.%s.health" % name
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not PATH_RE.fullmatch(spec["path"]):
        raise MonitoringError("%s: expected {path, port} with an absolute URL path, got %r" % (where, spec))
    port = spec.get("port", entry.get("port"))
    if not entry.get("container") or not port:
        raise MonitoringError("%s: service %r has no container and port to probe" % (where, name))
    return "http://%s:%s%s" % (entry["container"], port, spec["path"])


def scrape_configs(catalog, prober="blackbox_exporter", routed=True, https_module="http_2xx", tcp_module="tcp_connect",
                   health_module="http_health"):
    """Prometheus ``scrape_configs`` for the resolved catalog.

    ``prober`` names the blackbox exporter's service; without it in the catalog there are no probes.
    ``routed`` says whether routed hosts are reachable (the proxy stack is enabled): only then are they
    probed over HTTPS.
    """
    if not isinstance(catalog, dict):
        raise MonitoringError("expected the resolved catalog (a mapping), got %r" % (catalog,))
    jobs = []
    scraped = set()
    for name, entry in sorted(catalog.items()):
        if entry.get("metrics") is None:
            continue
        target, path, scheme = _metrics_target(name, entry)
        scraped.add(target)
        job = {"job_name": name, "static_configs": [{"targets": [target], "labels": _labels(name, entry)}]}
        if path != "/metrics":
            job["metrics_path"] = path
        if scheme != "http":
            job["scheme"] = scheme
        jobs.append(job)

    probe = catalog.get(prober)
    if probe is None:
        return jobs
    if not probe.get("container") or not probe.get("port"):
        raise MonitoringError("kompose_services.%s: the blackbox exporter needs a container and a port" % prober)
    address = "%s:%s" % (probe["container"], probe["port"])

    https = [{"targets": [entry["fqdn"]], "labels": _labels(name, entry)}
             for name, entry in sorted(catalog.items()) if routed and entry.get("fqdn") and not entry.get("tcp")]
    if https:
        jobs.append(_probe_job(JOB_HTTPS, https_module, https, address, replacement="https://$1"))
    health = [{"targets": [_health_target(name, entry)], "labels": _labels(name, entry)}
              for name, entry in sorted(catalog.items()) if entry.get("health") is not None]
    if health:
        jobs.append(_probe_job(JOB_HEALTH, health_module, health, address))
    # internal services (no route, no health endpoint) that no job scrapes on their own socket already
    tcp = [{"targets": ["%s:%s" % (entry["container"], entry["port"])], "labels": _labels(name, entry)}
           for name, entry in sorted(catalog.items())
           if entry.get("container") and entry.get("port") and (not entry.get("host") or entry.get("tcp"))
           and entry.get("health") is None
           and "%s:%s" % (entry["container"], entry["port"]) not in scraped]
    if tcp:
        jobs.append(_probe_job(JOB_TCP, tcp_module, tcp, address))
    return jobs


# --- alert rules ------------------------------------------------------------------------------------

DEFAULT_THRESHOLDS = {
    "down_for": "2m",                  # how long a target/probe must fail before alerting
    "cert_expiry_days": 14,            # certificate expires in fewer days than this
    "postgres_connections_ratio": 0.8,  # connections / max_connections
    "redis_memory_ratio": 0.9,         # used memory / maxmemory
    "disk_free_ratio": 0.1,            # free space / size of a host filesystem
    "memory_available_ratio": 0.1,     # available memory / total on the host
    "backup_max_age_seconds": 93600,   # newest successful backup older than this (26 h for a daily schedule)
    "failed_logins": 10,               # failed logins in 5 minutes (the seed's security rule)
}
PRIORITY = {"critical": 8, "warning": 5, "info": 2}


def _rule(alert, expr, severity, category, summary, description, duration):
    rule = {"alert": alert, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = {"severity": severity, "category": category}
    rule["annotations"] = {"summary": summary, "description": description, "priority": str(PRIORITY[severity])}
    return rule


def _thresholds(overrides):
    values = dict(DEFAULT_THRESHOLDS)
    unknown = set(overrides or {}) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise MonitoringError("alert thresholds: unknown key(s) %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(sorted(DEFAULT_THRESHOLDS))))
    values.update(overrides or {})
    if not isinstance(values["down_for"], str) or not DURATION_RE.fullmatch(values["down_for"]):
        raise MonitoringError("alert thresholds: down_for %r is not a Prometheus duration (e.g. 2m)" % (values["down_for"],))
    for key in DEFAULT_THRESHOLDS:
        if key != "down_for" and (isinstance(values[key], bool) or not isinstance(values[key], (int, float)) or values[key] <= 0):
            raise MonitoringError("alert thresholds: %s %r is not a positive number" % (key, values[key]))
    for key in ("postgres_connections_ratio", "redis_memory_ratio", "disk_free_ratio", "memory_available_ratio"):
        if values[key] >= 1:
            raise MonitoringError("alert thresholds: %s %r must be a ratio below 1" % (key, values[key]))
    return values


def alert_rules(catalog, thresholds=None, prober="blackbox_exporter", postgres_exporter="postgres_exporter",
                redis_exporter="redis_exporter", node_exporter="node_exporter", broker="mqtt", mqtt_exporter="mqtt_exporter",
                events="events"):
    """Prometheus rule groups (the content of a rule file) for what the catalog enables."""
    t = _thresholds(thresholds)
    down = t["down_for"]
    groups = []

    groups.append({"name": "kompose-targets", "rules": [
        _rule("TargetDown", "up == 0", "critical", "availability",
              "{{ $labels.job }} target {{ $labels.instance }} is down",
              "Prometheus could not scrape {{ $labels.instance }} (job {{ $labels.job }}) for %s." % down, down),
    ]})

    if prober in catalog:
        groups.append({"name": "kompose-probes", "rules": [
            _rule("ProbeFailing", "probe_success == 0", "critical", "availability",
                  "Probe of {{ $labels.instance }} is failing",
                  "The blackbox probe ({{ $labels.job }}) of {{ $labels.instance }} has failed for %s." % down, down),
            _rule("CertificateExpiring",
                  "probe_ssl_earliest_cert_expiry - time() < 86400 * %s" % t["cert_expiry_days"],
                  "warning", "certificates",
                  "Certificate of {{ $labels.instance }} expires soon",
                  "The TLS certificate of {{ $labels.instance }} expires in {{ $value | humanizeDuration }} "
                  "(less than %s days)." % t["cert_expiry_days"], "1h"),
        ]})

    rules = []
    if postgres_exporter in catalog:
        rules += [
            _rule("PostgresDown", "pg_up == 0", "critical", "database",
                  "PostgreSQL is down",
                  "The PostgreSQL exporter {{ $labels.instance }} cannot reach the server.", "1m"),
            _rule("PostgresTooManyConnections",
                  "sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections) > %s"
                  % t["postgres_connections_ratio"],
                  "warning", "database",
                  "PostgreSQL uses most of its connections",
                  "{{ $value | humanizePercentage }} of max_connections are in use (threshold %s)."
                  % t["postgres_connections_ratio"], "5m"),
        ]
    if redis_exporter in catalog:
        rules += [
            _rule("RedisDown", "redis_up == 0", "critical", "database",
                  "Redis is down", "The Redis exporter {{ $labels.instance }} cannot reach the server.", "1m"),
            _rule("RedisMemoryNearMaxmemory",
                  "redis_memory_used_bytes / (redis_memory_max_bytes > 0) > %s" % t["redis_memory_ratio"],
                  "warning", "database",
                  "Redis memory is near maxmemory",
                  "Redis uses {{ $value | humanizePercentage }} of maxmemory (threshold %s); keys are being evicted."
                  % t["redis_memory_ratio"], "5m"),
        ]
    if broker in catalog and (prober in catalog or mqtt_exporter in catalog):
        exprs = []
        if prober in catalog:
            exprs.append('probe_success{job="%s", service="%s"} == 0' % (JOB_TCP, broker))
        if mqtt_exporter in catalog:
            exprs.append('up{job="%s"} == 0' % mqtt_exporter)
        rules.append(_rule("MQTTBrokerDown", " or ".join(exprs), "critical", "messaging",
                           "The MQTT broker is down",
                           "The MQTT broker %s does not accept connections (or its exporter cannot reach it)." % broker, "1m"))
    if rules:
        groups.append({"name": "kompose-services", "rules": rules})

    if node_exporter in catalog:
        groups.append({"name": "kompose-host", "rules": [
            _rule("HostDiskPressure",
                  'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} '
                  '/ node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} < %s' % t["disk_free_ratio"],
                  "warning", "host",
                  "Host filesystem {{ $labels.mountpoint }} is almost full",
                  "Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} is free (threshold %s)."
                  % t["disk_free_ratio"], "10m"),
            _rule("HostMemoryPressure",
                  "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < %s" % t["memory_available_ratio"],
                  "warning", "host",
                  "Host memory is almost exhausted",
                  "Only {{ $value | humanizePercentage }} of the host's memory is available (threshold %s)."
                  % t["memory_available_ratio"], "10m"),
        ]})

    # the event engine's own metrics (events/kompose_events/service/metrics.py)
    if events in catalog:
        groups.append({"name": "kompose-events", "rules": [
            _rule("EventsBrokerDisconnected", "kompose_events_mqtt_connected == 0", "critical", "events",
                  "The event engine's MQTT client {{ $labels.client }} is disconnected",
                  "The event engine's client {{ $labels.client }} has not been connected to the broker for 2 minutes: "
                  "its events wait in the broker (rules) or in the app (sources).", "2m"),
            _rule("EventsRuleFailing", "kompose_events_rule_consecutive_failures >= 3", "warning", "events",
                  "Event rule {{ $labels.rule }} keeps failing",
                  "The rule {{ $labels.rule }} failed {{ $value }} times in a row; its jobs are retried with backoff "
                  "and parked (kompose_events_parked) until its target answers.", "5m"),
            _rule("EventsParked", "kompose_events_parked > 0", "warning", "events",
                  "Event rule {{ $labels.rule }} has parked jobs",
                  "{{ $value }} jobs of the rule {{ $labels.rule }} gave up retrying; they are replayed once the rule "
                  "works again.", "15m"),
            _rule("EventsSourceLagging", "kompose_events_source_lag_seconds > 300", "warning", "events",
                  "Event source {{ $labels.source }} lags",
                  "The event source {{ $labels.source }} is {{ $value | humanizeDuration }} behind its app.", "5m"),
        ]})

    groups.append({"name": "kompose-backup", "rules": [
        _rule("BackupTooOld",
              "time() - kompose_backup_last_success_timestamp_seconds > %s" % t["backup_max_age_seconds"],
              "critical", "backup",
              "Backup {{ $labels.backup }} is older than its schedule allows",
              "The last successful backup of {{ $labels.backup }} finished {{ $value | humanizeDuration }} ago "
              "(allowed: %ss)." % t["backup_max_age_seconds"], "10m"),
    ]})
    # A labelled counter (mtail's failed_logins_total by reason) has no series until its first
    # increment, so the first scrape can already hold a burst that increase() never sees (it only
    # counts growth between samples). A series younger than the window counts from zero instead.
    groups.append({"name": "kompose-security", "rules": [
        _rule("TooManyFailedLogins",
              "sum by (job, instance) ((%s unless %s offset 5m) or increase(%s[5m])) > %s"
              % (("failed_logins_total",) * 3 + (t["failed_logins"],)),
              "critical", "security",
              "Security alert: multiple failed logins on {{ $labels.job }}",
              "{{ $value | humanize }} failed logins on {{ $labels.instance }} in the last 5 minutes "
              "(more than %s)." % t["failed_logins"], ""),
    ]})
    return {"groups": groups}


# --- Grafana dashboards ---------------------------------------------------------------------------

# The dashboards are data of the stacks that own them (``__kompose_dashboards_<stack>`` in
# roles/kompose/vars/main/<stack>.yml): {uid, title, requires, panels}, each panel {title, type, unit,
# queries: [{expr, legend}], needs}. A dashboard is provisioned when one of the services it
# ``requires`` is enabled (or it requires none), a panel when the service it ``needs`` is enabled.
PANEL_TYPES = ("stat", "table", "timeseries")
UID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _text(where, value):
    if not isinstance(value, str) or not value.strip():
        raise MonitoringError("%s: %r is not a non-empty string" % (where, value))
    return value


def _names(where, value):
    if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) and name for name in value):
        raise MonitoringError("%s: %r is not a list of service names" % (where, value))
    return list(value)


def _mapping(where, value, required, optional=()):
    if not isinstance(value, dict) or not set(required) <= set(value) <= set(required) | set(optional):
        raise MonitoringError("%s: %r is not a mapping with %s%s" % (
            where, value, ", ".join(required), " (and optionally %s)" % ", ".join(optional) if optional else ""))
    return value


def _dashboard_spec(index, spec):
    where = "dashboards[%d]" % index
    _mapping(where, spec, ("uid", "title", "panels"), ("requires",))
    if not isinstance(spec["uid"], str) or not UID_RE.fullmatch(spec["uid"]):
        raise MonitoringError("%s.uid: %r is not a dashboard uid (lower-case letters, digits, -; at most 40)" % (where, spec["uid"]))
    where = "dashboards[%s]" % spec["uid"]
    _text(where + ".title", spec["title"])
    requires = _names(where + ".requires", spec.get("requires", []))
    if not isinstance(spec["panels"], (list, tuple)) or not spec["panels"]:
        raise MonitoringError("%s.panels: %r is not a non-empty list of panels" % (where, spec["panels"]))
    panels = []
    for number, panel in enumerate(spec["panels"]):
        at = "%s.panels[%d]" % (where, number)
        _mapping(at, panel, ("title", "type", "unit", "queries"), ("needs",))
        if panel["type"] not in PANEL_TYPES:
            raise MonitoringError("%s.type: %r is not one of %s" % (at, panel["type"], ", ".join(PANEL_TYPES)))
        needs = panel.get("needs")
        if needs is not None and not (isinstance(needs, str) and needs):
            raise MonitoringError("%s.needs: %r is not a service name" % (at, needs))
        if not isinstance(panel["queries"], (list, tuple)) or not panel["queries"]:
            raise MonitoringError("%s.queries: %r is not a non-empty list of {expr, legend}" % (at, panel["queries"]))
        queries = []
        for qn, query in enumerate(panel["queries"]):
            _mapping("%s.queries[%d]" % (at, qn), query, ("expr", "legend"))
            queries.append((_text("%s.queries[%d].expr" % (at, qn), query["expr"]),
                            _text("%s.queries[%d].legend" % (at, qn), query["legend"])))
        panels.append((_text(at + ".title", panel["title"]), panel["type"], _text(at + ".unit", panel["unit"]), queries, needs))
    return {"uid": spec["uid"], "title": spec["title"], "requires": requires, "panels": panels}


def _target(index, expr, legend, kind, datasource):
    target = {"refId": chr(ord("A") + index), "expr": expr, "legendFormat": legend,
              "datasource": {"type": "prometheus", "uid": datasource}}
    if kind == "table":
        target.update(instant=True, format="table")
    return target


def _panel(index, title, kind, unit, queries, datasource):
    width = 24 if kind == "table" else 12
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "gridPos": {"h": 8, "w": width, "x": 0, "y": 0},
        "datasource": {"type": "prometheus", "uid": datasource},
        "targets": [_target(i, expr, legend, kind, datasource) for i, (expr, legend) in enumerate(queries)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }


def _layout(panels):
    """Place panels left to right, top to bottom, on Grafana's 24-column grid."""
    x = y = row_height = 0
    for panel in panels:
        grid = panel["gridPos"]
        if x + grid["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_height = max(row_height, grid["h"])
    return panels


def grafana_dashboards(catalog, dashboards, directory="dashboards", datasource="prometheus"):
    """Provisioned dashboards for the enabled services: a list of {path, content} (JSON text).

    ``dashboards`` is every stack's dashboard specs (see above); each uid is unique.
    """
    if not isinstance(dashboards, (list, tuple)):
        raise MonitoringError("dashboards: expected a list of dashboards, got %r" % (dashboards,))
    specs = [_dashboard_spec(index, spec) for index, spec in enumerate(dashboards)]
    uids = [spec["uid"] for spec in specs]
    twice = sorted({uid for uid in uids if uids.count(uid) > 1})
    if twice:
        raise MonitoringError("dashboards: uid %s declared twice" % ", ".join(twice))
    out = []
    for spec in specs:
        if spec["requires"] and not any(name in catalog for name in spec["requires"]):
            continue
        wanted = [panel for panel in spec["panels"] if panel[4] is None or panel[4] in catalog]
        panels = [_panel(i, *panel[:4], datasource=datasource) for i, panel in enumerate(wanted)]
        model = {
            "uid": spec["uid"],
            "title": spec["title"],
            "tags": ["kompose"],
            "timezone": "browser",
            "editable": False,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "panels": _layout(panels),
        }
        out.append({"path": "%s/%s.json" % (directory.rstrip("/"), spec["uid"]),
                    "content": json.dumps(model, indent=2, sort_keys=True) + "\n"})
    return out
