# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private helpers of the gotify_application module: a small HTTP client for Gotify's REST API
and the decision logic (desired application vs. the one Gotify has).

The HTTP part is a transport object with one method, `request(method, path, payload, auth)`,
so the decisions can be tested with a fake one. `UrlTransport` is the real one, on Ansible's
`open_url` (the Python standard library underneath; no extra dependency).

API facts this relies on (gotify/server, tags v2.9.1 and v3.0.0):
- `GET /version` (no auth) -> {version, commit, buildDate}; version has no leading `v`.
- `GET /application` lists the applications of the authenticated user; v2 includes each
  usable token, v3 omits it (only the public form is stored).
- `POST /application` -> the application with its usable token (v3: the only time).
- `PUT /application/{id}` replaces name, description and defaultPriority.
- `PUT /application/{id}/security` {"regenerateToken": true} (v3 only, elevated auth; basic
  auth counts as elevated) -> {"regenerateToken": {"token": ...}}.
- `DELETE /application/{id}` deletes the application and its messages.
- Errors are {"error", "errorCode", "errorDescription"}.
Nothing here is a public API of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.pivoine.kompose.plugins.module_utils._mask import MASK
ISSUED_MASK = MASK + ' (new)'
# Gotify's JSON keys -> the module's return keys; the token is never part of it
APP_FIELDS = (('id', 'id'), ('name', 'name'), ('description', 'description'),
              ('defaultPriority', 'default_priority'), ('internal', 'internal'), ('image', 'image'),
              ('createdAt', 'created_at'), ('lastUsed', 'last_used'), ('sortKey', 'sort_key'))
PRIORITY_RANGE = (0, 10)


def gotify_argument_spec():
    """Connection options of the module."""
    return dict(
        url=dict(type='str', required=True),
        username=dict(type='str', required=True),
        password=dict(type='str', required=True, no_log=True),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
        timeout=dict(type='int', default=10),
    )


def check_params(params):
    """Errors in the options that Ansible's argument spec cannot express, as one message or None."""
    errors = []
    if not re.match(r'^https?://[^/\s]+', params['url'] or ''):
        errors.append('url=%r is not an http:// or https:// address of the Gotify server (for example '
                      'http://messaging_gotify:80)' % params['url'])
    if not (params['name'] or '').strip():
        errors.append('name=%r: Gotify needs a non-empty application name' % params['name'])
    low, high = PRIORITY_RANGE
    if not low <= params['default_priority'] <= high:
        errors.append('default_priority=%d is out of range: Gotify priorities go from %d to %d'
                      % (params['default_priority'], low, high))
    if params['timeout'] is not None and params['timeout'] <= 0:
        errors.append('timeout=%d must be a positive number of seconds' % params['timeout'])
    return '; '.join(errors) or None


class GotifyError(Exception):
    pass


class TransportError(Exception):
    """The server could not be reached (no HTTP status)."""


class Response(object):
    def __init__(self, status, body, location=None):
        self.status = status
        self.body = body
        self.location = location

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class UrlTransport(object):
    """HTTP to Gotify through Ansible's open_url; basic auth with the module's user."""

    def __init__(self, params):
        self.base = params['url'].rstrip('/')
        self.username = params['username']
        self.password = params['password']
        self.validate_certs = params['validate_certs']
        self.ca_path = params['ca_path']
        self.timeout = params['timeout']

    def request(self, method, path, payload=None, auth=True):
        headers = {'Accept': 'application/json'}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        kwargs = dict(url_username=self.username, url_password=self.password, force_basic_auth=True) if auth else {}
        try:
            resp = open_url(self.base + path, data=data, headers=headers, method=method, timeout=self.timeout,
                            validate_certs=self.validate_certs, ca_path=self.ca_path, follow_redirects='none',
                            use_netrc=False, http_agent='pivoine.kompose.gotify_application', **kwargs)
            return Response(resp.getcode(), resp.read().decode('utf-8', 'replace'))
        except HTTPError as exc:
            try:
                body = exc.read().decode('utf-8', 'replace')
            except Exception:  # a body that cannot be read is only missing detail
                body = ''
            location = exc.headers.get('Location') if exc.headers is not None else None
            return Response(exc.code, body, location)
        except (URLError, UrlsConnectionError, HTTPException, OSError) as exc:
            raise TransportError(' '.join(str(getattr(exc, 'reason', None) or exc).split()))


def error_detail(response):
    """`HTTP 400 Bad Request: <Gotify's errorDescription>` (or the start of a non-Gotify body)."""
    data = response.json()
    if isinstance(data, dict) and 'errorDescription' in data:
        return 'HTTP %d %s: %s' % (response.status, data.get('error', ''), data['errorDescription'])
    text = ' '.join((response.body or '').split())
    if response.location:
        text = 'redirected to %s; set url to the address Gotify answers on' % response.location
    return 'HTTP %d%s' % (response.status, (': ' + text[:300]) if text else '')


class GotifyClient(object):
    """The calls of the module, each turning an unexpected answer into a GotifyError naming the cause."""

    def __init__(self, transport, params):
        self.transport = transport
        self.url = params['url']
        self.username = params['username']
        self.requests = []  # 'METHOD /path' of every call that changes something (sent or, in check mode, not)

    def call(self, method, path, payload=None, auth=True, about=None):
        try:
            response = self.transport.request(method, path, payload, auth)
        except TransportError as exc:
            raise GotifyError('url=%s: cannot reach Gotify (%s %s): %s' % (self.url, method, path, exc))
        if response.status == 401:
            raise GotifyError('username=%s: Gotify at url=%s rejected the credentials (%s %s: %s); check username '
                              'and password' % (self.username, self.url, method, path, error_detail(response)))
        if response.status == 403:
            raise GotifyError('username=%s: Gotify at url=%s refused %s %s (%s)'
                              % (self.username, self.url, method, path, error_detail(response)))
        if not 200 <= response.status < 300:
            raise GotifyError('%s%s %s at url=%s failed: %s'
                              % ((about + ': ') if about else '', method, path, self.url, error_detail(response)))
        return response

    def json_call(self, method, path, payload=None, auth=True, about=None, shape=dict):
        response = self.call(method, path, payload, auth, about)
        data = response.json()
        if not isinstance(data, shape):
            raise GotifyError('url=%s: %s %s did not answer with Gotify JSON (HTTP %d: %s); is url the Gotify server?'
                              % (self.url, method, path, response.status, ' '.join(response.body.split())[:200]))
        return data

    def version(self):
        data = self.json_call('GET', '/version', auth=False)
        if 'version' not in data:
            raise GotifyError('url=%s: GET /version answered without a version (%s); is url the Gotify server?'
                              % (self.url, json.dumps(data)[:200]))
        return str(data['version'])

    def applications(self):
        return self.json_call('GET', '/application', shape=list)

    def create(self, name, description, priority, sort_key=None):
        payload = dict(name=name, description=description, defaultPriority=priority)
        if sort_key:
            payload['sortKey'] = sort_key
        return self.json_call('POST', '/application', payload, about='name=%r' % name)

    def update(self, app_id, name, description, priority):
        return self.json_call('PUT', '/application/%d' % app_id,
                              dict(name=name, description=description, defaultPriority=priority),
                              about='name=%r (id %d)' % (name, app_id))

    def regenerate(self, app_id, name):
        data = self.json_call('PUT', '/application/%d/security' % app_id, dict(regenerateToken=True),
                              about='name=%r (id %d)' % (name, app_id))
        token = (data.get('regenerateToken') or {}).get('token')
        if not token:
            raise GotifyError('name=%r (id %d): PUT /application/%d/security answered without a new token'
                              % (name, app_id, app_id))
        return token

    def delete(self, app_id, name):
        self.call('DELETE', '/application/%d' % app_id, about='name=%r (id %d)' % (name, app_id))


# --- pure decisions ----------------------------------------------------------------------------

def major_version(version, apps):
    """The API generation: 2 (tokens listed, no rotation) or 3 (tokens shown once, rotation endpoint).

    From the version string (`2.9.1`, `3.0.0`); a development build reports `unknown`, then the
    listing tells: v2 lists every token, v3 none. With no application to look at, v3 is assumed
    (the difference only matters for an existing application).
    """
    match = re.match(r'^v?(\d+)\.', version or '')
    if match:
        return int(match.group(1))
    if any(app.get('token') for app in apps):
        return 2
    return 3


def summary(app):
    """Gotify's application (any version) as the module returns it: snake_case keys, no token."""
    if app is None:
        return None
    return dict((key, app.get(field)) for field, key in APP_FIELDS)


def diff_view(app, token):
    """The diff side of an application; `token` is already masked (or None)."""
    if app is None:
        return dict(exists=False)
    view = dict(exists=True, id=app.get('id'), name=app.get('name'), description=app.get('description'),
                default_priority=app.get('defaultPriority'))
    view['token'] = token
    return view


class Application(object):
    """Desired vs. actual state of one Gotify application of the module's user."""

    def __init__(self, client, params, check_mode=False, warn=None):
        self.client = client
        self.p = params
        self.name = params['name']
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.changed = False

    def write(self, method, path, action):
        """Record a changing call; perform it (action()) unless in check mode; return its result or None."""
        self.client.requests.append('%s %s' % (method, path))
        if self.check_mode:
            self.changed = True
            return None
        result = action()
        self.changed = True
        return result

    def find(self, apps):
        matches = [app for app in apps if app.get('name') == self.name]
        if len(matches) > 1:
            raise GotifyError(
                'name=%r: user %s has %d Gotify applications with this name (ids %s); the module manages one '
                'application per name, so delete or rename the extra ones in Gotify first'
                % (self.name, self.client.username, len(matches), ', '.join(str(app.get('id')) for app in matches)))
        return matches[0] if matches else None

    def desired(self, actual=None):
        app = dict(actual or {}, name=self.name, description=self.p['description'],
                   defaultPriority=self.p['default_priority'])
        if actual is None:
            app.update(id=None, internal=False, image='static/defaultapp.png', createdAt=None, lastUsed=None,
                       sortKey=None)
        return app

    def differs(self, actual):
        return (actual.get('description') or '') != self.p['description'] or \
            actual.get('defaultPriority') != self.p['default_priority']

    def create(self, sort_key=None):
        created = self.write('POST', '/application', lambda: self.client.create(
            self.name, self.p['description'], self.p['default_priority'], sort_key))
        return created or self.desired()

    def ensure_present(self, actual, major):
        """(application after, token to hand back or None, whether Gotify issued a new one)."""
        # a token read back from a file may carry a newline; an empty one is none held
        held, rotate = (self.p['token'] or '').strip() or None, self.p['rotate']
        if actual is None:
            created = self.create()
            return created, created.get('token'), True
        if major < 3:
            listed = actual.get('token') or None
            if rotate:
                # Gotify 2 has no rotation: delete the application and create it again (new id, new token)
                self.write('DELETE', '/application/%d' % actual['id'], lambda: self.client.delete(actual['id'], self.name))
                try:
                    created = self.create(actual.get('sortKey'))
                except GotifyError as exc:
                    raise GotifyError('%s; the application (id %d) was already deleted to rotate its token with '
                                      'Gotify 2, run again to create it' % (exc, actual['id']))
                if created.get('id') is None:
                    created = dict(created, sortKey=actual.get('sortKey'))
                return created, created.get('token'), True
            after = self.update(actual)
            if held is not None and listed is not None and held != listed:
                self.warn('token does not match the token Gotify holds for application %r (id %d); the module '
                          'returns Gotify\'s token as token, store it' % (self.name, actual['id']))
            return after, (listed if held != listed else None), False
        after = self.update(actual)
        if held is None or rotate:
            token = self.write('PUT', '/application/%d/security' % actual['id'],
                               lambda: self.client.regenerate(actual['id'], self.name))
            return after, token, True
        return after, None, False

    def update(self, actual):
        if not self.differs(actual):
            return actual
        updated = self.write('PUT', '/application/%d' % actual['id'], lambda: self.client.update(
            actual['id'], self.name, self.p['description'], self.p['default_priority']))
        return updated or self.desired(actual)

    def apply(self):
        version = self.client.version()
        apps = self.client.applications()
        actual = self.find(apps)
        major = major_version(version, apps)
        token, issued, after = None, False, None
        if self.p['state'] == 'present':
            after, token, issued = self.ensure_present(actual, major)
        elif actual is not None:
            self.write('DELETE', '/application/%d' % actual['id'], lambda: self.client.delete(actual['id'], self.name))
        header = 'gotify application %s' % self.name
        result = dict(
            changed=self.changed,
            application=summary(after),
            token_issued=issued,
            version=version,
            requests=self.client.requests,
            diff=dict(before=diff_view(actual, MASK if actual is not None else None),
                      after=diff_view(after, ISSUED_MASK if issued else MASK),
                      before_header=header, after_header=header),
        )
        if token:
            result['token'] = token
        return result
