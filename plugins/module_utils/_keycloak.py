# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: compare Keycloak client representations (module keycloak_clients).

A client is compared as community.general's keycloak_client compares one: the wanted keys laid over
what Keycloak has (attributes merged key by key), both normalised (order of URIs and mappers,
ids, booleans Keycloak stores as strings, the secret's creation time) and compared whole.
Also the one admin API read community.general's KeycloakAPI has no method for (direct_client_roles).
Nothing here is a public API of the collection.
"""

from __future__ import annotations

import copy

from ansible_collections.community.general.plugins.module_utils.identity.keycloak.keycloak import URL_CLIENT_USER_ROLEMAPPINGS

from ansible_collections.pivoine.kompose.plugins.module_utils._mask import MASK
SECRET_KEYS = ("secret",)


def _strings(mapping):
    return {key: str(value).lower() if isinstance(value, bool) else value for key, value in (mapping or {}).items()}


def normalise(client):
    """A copy of a client representation that compares equal whenever Keycloak would hold the same client."""
    client = copy.deepcopy(client or {})
    client.pop("id", None)
    client.setdefault("authorizationServicesEnabled", False)
    for key in ("redirectUris", "webOrigins", "defaultClientScopes", "optionalClientScopes"):
        if key in client:
            client[key] = sorted(client[key])
    mappers = []
    for mapper in client.get("protocolMappers") or []:
        mapper = dict(mapper)
        mapper.pop("id", None)
        mapper.setdefault("consentRequired", False)
        mapper["config"] = _strings(mapper.get("config"))
        mappers.append(mapper)
    client["protocolMappers"] = sorted(mappers, key=lambda m: (m.get("name", ""), m.get("protocol", ""), m.get("protocolMapper", "")))
    attributes = _strings(client.get("attributes"))
    attributes.pop("client.secret.creation.time", None)
    client["attributes"] = attributes
    return client


def desired(before, wanted):
    """What Keycloak should hold: ``before`` with the ``wanted`` keys set (``attributes`` merged key by key)."""
    after = copy.deepcopy(before or {})
    for key, value in wanted.items():
        if key == "attributes":
            merged = dict(after.get("attributes") or {})
            merged.update(value or {})
            after[key] = merged
        else:
            after[key] = copy.deepcopy(value)
    return after


def differences(before, after):
    """The top-level keys whose normalised values differ (sorted)."""
    old, new = normalise(before), normalise(after)
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def masked(client, keys=None):
    """A client for a diff: only ``keys`` (all when None), the secret masked."""
    shown = {key: value for key, value in (client or {}).items() if keys is None or key in keys}
    for key in SECRET_KEYS:
        if shown.get(key) is not None:
            shown[key] = MASK
    return shown


def direct_client_roles(kc, uid, cid, realm):
    """The roles of client ``cid`` mapped to user ``uid`` directly (not through a composite role or a group).

    GET /admin/realms/{realm}/users/{uid}/role-mappings/clients/{cid}, through the KeycloakAPI ``kc``'s request
    helper (its token refresh, timeouts, TLS settings): community.general has no method that returns this list
    (get_client_user_rolemapping_by_id reads it to find one role by id).
    """
    url = URL_CLIENT_USER_ROLEMAPPINGS.format(url=kc.baseurl, realm=realm, id=uid, client=cid)
    try:
        return kc._request_and_deserialize(url, method="GET") or []
    except Exception as exc:  # pylint: disable=broad-exception-caught  # as KeycloakAPI's own methods: fail the module
        kc.fail_request(exc, msg="keycloak_clients: cannot read the roles of client %s mapped to user %s in realm %s: %s"
                                 % (cid, uid, realm, exc))
        return []
