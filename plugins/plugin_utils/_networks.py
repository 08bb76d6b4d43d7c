# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's Docker networks, derived from the service catalog: a container reaches only what it uses.

Every service with a container gets a network of its own, ``<edge>-<service>`` (``_`` as ``-``), when
it talks to anything: on it are the service, the services it calls (its PostgreSQL, Redis and MQTT
servers, the mail relay for ``smtp``, Gotify for ``gotify``, Traefik for the site's public URLs with
``oidc``, and its ``calls``) and the services that call it (Traefik when it is routed, Prometheus when
it is scraped, the blackbox exporter when it is probed). Two apps (services with servers of their
own) never share a network, so neither reaches the other, nor a server or an admin API it does not
use itself: an app that calls another app (the event engine calling Gotify) does so over a network of
the two alone, ``<edge>-<caller>-to-<callee>``, and so does every caller of an ``isolated`` service, its
prober included (the portal's Docker socket proxy: no other container may open a connection to it). A network is ``internal``
(no way out of the host) unless its service declares ``egress: true``. Traefik alone is on the edge
network ``<edge>`` too, where its ports are published. The core servers always have a network of their
own, where the day-2 tools (backups, restores, rotation proofs, upgrades) reach them.

Subnets come from the site's pool (``kompose_network_pool``), one /27 per network: a network that
exists keeps its own; a new one takes the first free block from a slot derived from its name, so
adding a service never moves another. The block's first sixteen addresses are kept out of Docker's
dynamic range for fixed ones: Traefik is ``.2`` on every service network, which is how a service
trusts forwarded headers from Traefik alone (Keycloak's ``proxy-trusted-addresses``), and each service
is ``.3`` on its own network, where what calls it reaches it: a caller that shares more than one
network with it (Traefik, Prometheus, the prober) has the name pinned to that address in its
/etc/hosts (Docker's DNS would answer with the address on the first shared network by name), so a
service may serve its callers on its own network only (Mailpit's UI and API, beside the SMTP port
its senders use).

"Internal" clients (``kompose_internal_networks``, the admin surfaces' ip-allowlist) are the
operator's networks, never Docker's: a range that overlaps the pool or any Docker network on the
host is refused, except the edge network's gateway address, which is how clients on the Docker host
itself reach Traefik through Docker's userland proxy (a published port bound to 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Mapping

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _monitoring

EDGE = "traefik"            # routes every host name; its aliases make the public URLs resolve to it
PROMETHEUS = "prometheus"   # scrapes the metrics jobs
PROBER = "blackbox_exporter"  # runs the probe jobs
SERVERS = ("postgres", "redis", "mqtt")
MAIL = "mailhog"            # the relay of every `smtp: true` service
GOTIFY = "gotify"           # where every `gotify` application posts
BLOCK = 27                  # one /27 per service network: 29 members at most
STATIC = 16                 # addresses .0-.15 stay out of Docker's dynamic range
EDGE_ADDRESS = 2            # Traefik's host number on every service network
OWN_ADDRESS = 3             # a service's host number on its own network
LABEL = "org.pivoine.kompose.network"


class NetworkError(ValueError):
    pass


def network_name(edge, service):
    return "%s-%s" % (edge, service.replace("_", "-"))


def _containers(catalog):
    return {name: entry for name, entry in catalog.items() if isinstance(entry, Mapping) and entry.get("container")}


def callees(catalog, name):
    """The enabled services ``name`` connects to (sorted): its servers, mail relay, Gotify, Traefik for
    the site's public URLs (``oidc``) and its ``calls`` (validated as services of the catalog when it is
    resolved); one that is not enabled, or runs no container, is left out like an optional server."""
    entry = catalog[name]
    wanted = {key for key in SERVERS if entry.get(key) is not None}
    if entry.get("smtp"):
        wanted.add(MAIL)
    if entry.get("gotify"):
        wanted.add(GOTIFY)
    if entry.get("oidc"):
        wanted.add(EDGE)
    wanted.update(entry.get("calls") or [])
    running = _containers(catalog)
    return sorted(service for service in wanted if service in running and service != name)


def is_app(entry):
    """Whether a service has servers of its own (a database, a Redis or broker user): an app (a core server is
    never one). Two apps never share a network, not even when one calls the other: the call goes over a
    network of the two alone."""
    return any(entry.get(key) is not None for key in SERVERS)


def paired(caller, callee):
    """Whether ``caller`` reaches ``callee`` over a network of the two alone: two apps, or an ``isolated``
    callee (a core server never is: it has a network of its own, where the day-2 tools reach it)."""
    return callee[0] not in SERVERS and (bool(callee[1].get("isolated")) or is_app(caller[1]) and is_app(callee[1]))


def pair_name(edge, caller, callee):
    """The network of an app calling another app (``<edge>-<caller>-to-<callee>``)."""
    return "%s-to-%s" % (network_name(edge, caller), callee.replace("_", "-"))


def observers(catalog, routed):
    """{service: set of services that call it}: Traefik for each routed service, Prometheus for each
    scrape target, the blackbox exporter for each probe target (the jobs of ``scrape_configs``, so the
    networks follow exactly what is scraped and probed); the prober calls Traefik for the HTTPS probes."""
    running = _containers(catalog)
    by_container = {entry["container"]: name for name, entry in running.items()}
    out = {}
    if routed and EDGE in running:
        for name, entry in running.items():
            if entry.get("fqdn") and entry.get("port") and name != EDGE:
                out.setdefault(name, set()).add(EDGE)
    for job in _monitoring.scrape_configs(dict(catalog), routed=routed):
        probe = job.get("metrics_path") == "/probe"
        observer = PROBER if probe else PROMETHEUS
        if observer not in running:
            continue
        if probe:
            out.setdefault(PROBER, set()).add(PROMETHEUS)
        for config in job["static_configs"]:
            for target in config["targets"]:
                if probe and "://" not in target and ":" not in target:
                    out.setdefault(EDGE, set()).add(PROBER)  # a host name, probed over HTTPS through Traefik
                    continue
                host = target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
                service = by_container.get(host)
                if service is not None and service != observer:
                    out.setdefault(service, set()).add(observer)
    return {name: callers & set(running) for name, callers in out.items()}


def _ipam(network):
    """(subnet, gateway, ip range) of a network as Docker lists it; a gateway Docker chose itself is not
    listed: it is the subnet's first address."""
    config = ((network.get("IPAM") or {}).get("Config") or [{}])[0] or {}
    subnet, gateway = config.get("Subnet"), config.get("Gateway")
    if subnet and not gateway:
        try:
            net = ipaddress.ip_network(subnet, strict=False)
            gateway = str(net.network_address + 1) if net.version == 4 else None
        except ValueError:
            pass
    return subnet, gateway, config.get("IPRange")


def _overlaps(net, used):
    return any(net.overlaps(other) for other in used)


def _allocate(name, pool, used):
    """The first free /BLOCK of ``pool`` from the slot ``name`` hashes to (wrapping around)."""
    blocks = list(pool.subnets(new_prefix=BLOCK))
    start = zlib.crc32(name.encode("utf-8")) % len(blocks)
    for index in range(len(blocks)):
        block = blocks[(start + index) % len(blocks)]
        if not _overlaps(block, used):
            return block
    raise NetworkError("kompose_network_pool: %s has no free /%d left for network %s" % (pool, BLOCK, name))


def _network(value, where):
    try:
        net = ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        raise NetworkError("%s: %r is not an IPv4 network in CIDR form (for example 172.16.0.0/16)" % (where, value)) from None
    if net.version != 4:
        raise NetworkError("%s: %r is not an IPv4 network" % (where, value))
    return net


def check_internal(internal, pool, docker_networks, edge):
    """Refuse ``kompose_internal_networks`` that overlap the pool or a Docker network (its gateway of the
    edge network aside: the Docker host's own clients through the userland proxy)."""
    if not isinstance(internal, list):
        raise NetworkError("kompose_internal_networks: expected a list of IPv4 networks in CIDR form, got %r" % (internal,))
    nets = [(value, _network(value, "kompose_internal_networks")) for value in internal]
    for value, net in nets:
        if net.overlaps(pool):
            raise NetworkError("kompose_internal_networks: %s overlaps kompose_network_pool %s, the site's own container "
                               "networks: any container would count as internal" % (value, pool))
        for network in docker_networks:
            subnet, gateway, dummy = _ipam(network)
            if not subnet:
                continue
            other = ipaddress.ip_network(subnet, strict=False)
            if other.version != 4 or not net.overlaps(other):
                continue
            if network.get("Name") == edge and gateway and net.num_addresses == 1 and net.network_address == ipaddress.ip_address(gateway):
                continue  # the Docker host itself, as Traefik sees it through the userland proxy
            raise NetworkError("kompose_internal_networks: %s overlaps Docker network %s (%s): its containers would count "
                               "as internal; list the operator's own networks only (the edge network's gateway %s/32 "
                               "stands for clients on the Docker host)" % (value, network.get("Name"), subnet, gateway or "?"))


def internal_problem(internal, pool, edge_subnet="", edge="kompose"):
    """What is wrong with ``kompose_internal_networks`` before Docker is asked ('' when nothing): a value that
    is not an IPv4 network, or one overlapping the pool or the fixed edge subnet (its gateway aside)."""
    try:
        networks = [{"Name": edge, "IPAM": {"Config": [{"Subnet": edge_subnet}]}}] if edge_subnet else []
        check_internal(internal, _network(pool, "kompose_network_pool"), networks, edge)
    except NetworkError as exc:
        return str(exc)
    return ""


def plan(catalog, edge, pool, docker_networks=None, edge_subnet="", internal=None, routed=True, egress=()):
    """The site's networks and each service's place on them.

    ``docker_networks`` are the host's networks as Docker's API lists them (none in a render-only run);
    ``edge_subnet`` a fixed subnet for the edge network (else the pool's); ``internal`` the
    ``kompose_internal_networks`` to check (see ``check_internal``); ``egress`` services that need a
    way out whatever their entry says (a published port: Docker maps ports only through a network
    that is not internal; a relay outside). Returns
    ``{networks: [{name, service, internal, subnet, gateway, ip_range, exists, members}],
    services: {service: compose keys (``networks`` or ``network_mode: none``, ``extra_hosts``)},
    projects: {stack: top-level compose ``networks``}, edge_address: {network: Traefik's address},
    own_address: {service: its address on its own network}}``.
    """
    if not isinstance(catalog, Mapping):
        raise NetworkError("expected the resolved catalog (a mapping of service name to entry), got %s" % type(catalog).__name__)
    pool = _network(pool, "kompose_network_pool")
    if pool.prefixlen > BLOCK - 1:
        raise NetworkError("kompose_network_pool: %s is too small (at most /%d: two /%d blocks)" % (pool, BLOCK - 1, BLOCK))
    docker_networks = list(docker_networks or [])
    running = _containers(catalog)
    seen = observers(catalog, routed)
    calls = {name: callees(catalog, name) for name in sorted(running)}

    wanted = {}  # network -> (network, service, internal, members); service None: the edge network or a pair's

    def want(network, service, is_internal, members):
        wanted[network] = (network, service, is_internal, sorted(members))

    for name in sorted(running):
        pairs = [callee for callee in calls[name] if paired((name, running[name]), (callee, running[callee]))]
        observed = seen.get(name, set())
        # what scrapes or probes an isolated service does so over a network of the two alone as well
        observers_paired = observed if running[name].get("isolated") else set()
        members = {name} | (set(calls[name]) - set(pairs)) | (observed - observers_paired)
        way_out = bool(running[name].get("egress")) or name in egress
        if len(members) > 1 or way_out or name in SERVERS:
            want(network_name(edge, name), name, not way_out, members)
        for caller, callee in [(name, callee) for callee in pairs] + [(observer, name) for observer in observers_paired]:
            want(pair_name(edge, caller, callee), None, True, {caller, callee})
    if EDGE in running:
        want(edge, None, False, [EDGE])

    existing = {network.get("Name"): network for network in docker_networks}
    used = [ipaddress.ip_network(subnet, strict=False) for subnet in (_ipam(n)[0] for n in docker_networks)
            if subnet and ipaddress.ip_network(subnet, strict=False).version == 4]
    networks = []
    for name, service, is_internal, members in sorted(wanted.values(), key=lambda item: item[0]):
        current = existing.get(name)
        subnet, gateway, ip_range = _ipam(current) if current else (None, None, None)
        if current is None:
            if name == edge and edge_subnet:
                block = _network(edge_subnet, "kompose_network_subnet")
            else:
                block = _allocate(name, pool, used)
            used.append(block)
            subnet, gateway = str(block), str(block.network_address + 1)
            ip_range = str(list(block.subnets(new_prefix=block.prefixlen + 1))[1]) if name != edge else None
        networks.append({"name": name, "service": service, "internal": is_internal, "subnet": subnet,
                         "gateway": gateway, "ip_range": ip_range, "exists": current is not None,
                         "recreate": current is not None and bool(current.get("Internal")) != is_internal,
                         "members": members})
    if internal is not None:
        check_internal(internal, pool, docker_networks + [
            {"Name": n["name"], "IPAM": {"Config": [{"Subnet": n["subnet"], "Gateway": n["gateway"]}]}}
            for n in networks if not n["exists"]], edge)

    aliases = sorted({entry["fqdn"] for entry in running.values() if entry.get("fqdn")}) if routed else []
    edge_address, own_address, on = {}, {}, {}
    services = {name: {} for name in running}
    for network in networks:
        block = ipaddress.ip_network(network["subnet"], strict=False)
        for member in network["members"]:
            settings = {}
            on.setdefault(member, set()).add(network["name"])
            if member == EDGE:
                if aliases:
                    settings["aliases"] = aliases
                if network["service"] is not None:
                    edge_address[network["name"]] = settings["ipv4_address"] = str(block.network_address + EDGE_ADDRESS)
                if network["service"] == EDGE:  # Traefik's own network: it keeps .2 there too
                    own_address[member] = settings["ipv4_address"]
            elif member == network["service"]:
                own_address[member] = settings["ipv4_address"] = str(block.network_address + OWN_ADDRESS)
            services[member].setdefault("networks", {})[network["name"]] = settings
    for network in networks:
        owner = network["service"]
        if owner not in own_address:
            continue
        for member in network["members"]:
            if member != owner and len(on[member] & on[owner]) > 1:
                services[member].setdefault("extra_hosts", []).append("%s:%s" % (running[owner]["container"], own_address[owner]))
    for keys in services.values():
        if "extra_hosts" in keys:
            keys["extra_hosts"].sort()
    projects = {}
    for name, keys in services.items():
        if not keys:
            keys["network_mode"] = "none"
        project = projects.setdefault(running[name]["stack"], {})
        for network in keys.get("networks", {}):
            project[network] = {"name": network, "external": True}
    for entry in catalog.values():
        projects.setdefault(entry["stack"], {})
    return {"networks": networks, "services": services, "projects": projects, "edge_address": edge_address,
            "own_address": own_address}
