# SPDX-License-Identifier: GPL-3.0-or-later
"""The gotify_application module's decisions, against a fake transport (no server).

The Gotify answers under fixtures/gotify/ are written by hand from the models and handlers of
gotify/server v2.9.1 and v3.0.0 (see fixtures/gotify/README.md), not captured from a server.
"""

import io
import json
import os
from urllib.error import HTTPError, URLError

import pytest


from ansible_collections.pivoine.kompose.plugins.module_utils import _gotify
from ansible_collections.pivoine.kompose.plugins.module_utils._gotify import (
    Application, GotifyClient, GotifyError, Response, TransportError, UrlTransport)
from ansible_collections.pivoine.kompose.plugins.modules import gotify_application as mod

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'gotify')
PASSWORD = 'hunter2-Pa55'
NAME = 'alertmanager'
DESCRIPTION = 'Alerts from Prometheus Alertmanager'


def load(name):
    with open(os.path.join(FIXTURES, name + '.json')) as handle:
        return json.load(handle)


V2_TOKEN = load('v2_applications')[0]['token']          # listed by Gotify 2
V2_NEW = load('v2_create')['token']
V3_NEW = load('v3_create')['token']                      # private form, only in the POST answer
V3_PUBLIC = load('v3_update')['token']                   # public form in the PUT answer: never handed back
V3_ROTATED = load('v3_security')['regenerateToken']['token']
V3_HELD = 'gtfya.FEFxh-dCK9OWzaRQUSr-zM74VLyGi3PLABdxpRxpY0U'
ALL_TOKENS = [V2_TOKEN, V2_NEW, V3_NEW, V3_PUBLIC, V3_ROTATED, V3_HELD, load('v2_applications')[1]['token']]


class FakeTransport(object):
    """Scripted Gotify: (method, path) -> (status, body) or a function of the JSON payload."""

    def __init__(self, routes):
        self.routes = routes
        self.sent = []

    def request(self, method, path, payload=None, auth=True):
        self.sent.append((method, path, payload, auth))
        route = self.routes.get((method, path))
        if route is None:
            return Response(404, '404 page not found')
        if isinstance(route, Exception):
            raise route
        if callable(route):
            route = route(payload)
        status, body = route
        return Response(status, body if isinstance(body, str) else json.dumps(body))

    @property
    def writes(self):
        return [(method, path, payload) for method, path, payload, dummy in self.sent if method != 'GET']


def gotify(major, apps=None, without=None, **routes):
    """A fake Gotify of version major (2 or 3) listing `apps` (default: the fixture's), minus `without`."""
    apps = load('v%d_applications' % major) if apps is None else apps
    apps = [app for app in apps if app['name'] != without]
    table = {('GET', '/version'): (200, load('v%d_version' % major)), ('GET', '/application'): (200, apps)}
    for key, value in routes.items():
        method, path = key.split(' ', 1)
        table[(method, path)] = value
    return FakeTransport(table)


def params(**kwargs):
    p = dict(url='http://messaging_gotify:80', username='admin', password=PASSWORD, validate_certs=True,
             ca_path=None, timeout=10, name=NAME, description=DESCRIPTION, default_priority=5, state='present',
             token=None, rotate=False)
    p.update(kwargs)
    return p


def run(transport, check_mode=False, **kwargs):
    warnings = []
    client = GotifyClient(transport, params(**kwargs))
    result = Application(client, params(**kwargs), check_mode, warnings.append).apply()
    return result, warnings


def no_token_outside_token_key(result):
    rest = dict((k, v) for k, v in result.items() if k != 'token')
    text = json.dumps(rest)
    return not any(token in text for token in ALL_TOKENS)


# --- create ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('major, token', [(2, V2_NEW), (3, V3_NEW)])
def test_create_returns_the_token(major, token):
    transport = gotify(major, without=NAME, **{'POST /application': (200, load('v%d_create' % major))})
    result, dummy = run(transport)
    assert transport.writes == [('POST', '/application',
                                 dict(name=NAME, description=DESCRIPTION, defaultPriority=5))]
    assert result['changed'] and result['token_issued'] and result['token'] == token
    assert result['application']['id'] == 3 and 'token' not in result['application']
    assert result['version'] == ('2.9.1' if major == 2 else '3.0.0')
    assert result['requests'] == ['POST /application']
    assert no_token_outside_token_key(result)


# --- keep -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('major, held', [(2, V2_TOKEN), (3, V3_HELD)])
def test_keep_held_token_writes_nothing(major, held):
    transport = gotify(major)
    result, warnings = run(transport, token=held)
    assert transport.writes == [] and result['requests'] == []
    assert not result['changed'] and not result['token_issued'] and 'token' not in result
    assert result['application'] == dict(
        id=1, name=NAME, description=DESCRIPTION, default_priority=5, internal=False, image='static/defaultapp.png',
        created_at=None if major == 2 else '2026-07-20T09:14:03.512071958Z',
        last_used='2026-03-04T08:01:12.073614Z' if major == 2 else '2026-07-21T06:40:55.90412Z', sort_key='a0')
    assert warnings == []


@pytest.mark.parametrize('major, held, writes, token', [
    (2, V2_TOKEN + '\n', [], None),
    (3, V3_HELD + '\n', [], None),
    (2, '', [], V2_TOKEN),
    (3, '', [('PUT', '/application/1/security', dict(regenerateToken=True))], V3_ROTATED),
])
def test_held_token_from_a_file(major, held, writes, token):
    transport = gotify(major, **{'PUT /application/1/security': (200, load('v3_security'))})
    result, warnings = run(transport, token=held)
    assert transport.writes == writes and result.get('token') == token and warnings == []


def test_credentials_only_on_authenticated_calls():
    transport = gotify(3)
    run(transport, token=V3_HELD)
    assert [(method, path, auth) for method, path, dummy, auth in transport.sent] == [
        ('GET', '/version', False), ('GET', '/application', True)]


# --- update ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('major, held', [(2, V2_TOKEN), (3, V3_HELD)])
def test_update_description_and_priority(major, held):
    transport = gotify(major, **{'PUT /application/1': (200, load('v%d_update' % major))})
    result, dummy = run(transport, token=held, description='Alerts from Prometheus', default_priority=8)
    assert transport.writes == [('PUT', '/application/1',
                                 dict(name=NAME, description='Alerts from Prometheus', defaultPriority=8))]
    assert result['changed'] and not result['token_issued'] and 'token' not in result
    assert result['application']['description'] == 'Alerts from Prometheus'
    assert result['application']['default_priority'] == 8
    # v3's PUT answer carries the stored public form of the token: never handed back
    assert no_token_outside_token_key(result)


# --- a missing token ------------------------------------------------------------------------------

def test_v3_recovers_a_missing_token_by_regenerating_it():
    transport = gotify(3, **{'PUT /application/1/security': (200, load('v3_security'))})
    result, dummy = run(transport)
    assert transport.writes == [('PUT', '/application/1/security', dict(regenerateToken=True))]
    assert result['changed'] and result['token_issued'] and result['token'] == V3_ROTATED
    assert result['application']['id'] == 1


def test_v3_recovery_also_updates():
    transport = gotify(3, **{'PUT /application/1/security': (200, load('v3_security')),
                             'PUT /application/1': (200, load('v3_update'))})
    result, dummy = run(transport, description='Alerts from Prometheus', default_priority=8)
    assert [w[1] for w in transport.writes] == ['/application/1', '/application/1/security']
    assert result['token'] == V3_ROTATED and result['requests'] == ['PUT /application/1', 'PUT /application/1/security']
    assert V3_PUBLIC not in json.dumps(result)


def test_v2_hands_back_the_listed_token_without_change():
    transport = gotify(2)
    result, warnings = run(transport)
    assert transport.writes == []
    assert not result['changed'] and not result['token_issued'] and result['token'] == V2_TOKEN
    assert warnings == []


def test_v2_held_token_that_differs_is_replaced_by_the_listed_one():
    transport = gotify(2)
    result, warnings = run(transport, token='AoldTokenXXXXXX')
    assert transport.writes == [] and not result['changed'] and result['token'] == V2_TOKEN
    assert warnings and "token does not match the token Gotify holds for application 'alertmanager' (id 1)" \
        in warnings[0] and 'AoldTokenXXXXXX' not in warnings[0] and V2_TOKEN not in warnings[0]


# --- rotate ---------------------------------------------------------------------------------------

def test_v3_rotate_regenerates_in_place():
    transport = gotify(3, **{'PUT /application/1/security': (200, load('v3_security'))})
    result, dummy = run(transport, token=V3_HELD, rotate=True)
    assert transport.writes == [('PUT', '/application/1/security', dict(regenerateToken=True))]
    assert result['changed'] and result['token_issued'] and result['token'] == V3_ROTATED
    assert result['application']['id'] == 1


def test_v2_rotate_deletes_and_recreates_with_the_same_sort_key():
    def recreate(payload):
        return 200, dict(load('v2_create'), sortKey=payload['sortKey'])

    transport = gotify(2, **{'DELETE /application/1': (200, ''), 'POST /application': recreate})
    result, dummy = run(transport, token=V2_TOKEN, rotate=True)
    assert transport.writes == [
        ('DELETE', '/application/1', None),
        ('POST', '/application', dict(name=NAME, description=DESCRIPTION, defaultPriority=5, sortKey='a0'))]
    assert result['changed'] and result['token_issued'] and result['token'] == V2_NEW
    assert result['application']['id'] == 3 and result['application']['sort_key'] == 'a0'


def test_v2_rotate_failing_after_the_delete_says_so():
    transport = gotify(2, **{'DELETE /application/1': (200, ''),
                             'POST /application': (400, load('error_400_sort_key'))})
    application = Application(GotifyClient(transport, params()), params(rotate=True))
    with pytest.raises(GotifyError) as exc:
        application.apply()
    assert str(exc.value) == (
        "name='alertmanager': POST /application at url=http://messaging_gotify:80 failed: HTTP 400 Bad Request: "
        "sort key is not unique; the application (id 1) was already deleted to rotate its token with Gotify 2, "
        "run again to create it")
    assert application.changed


@pytest.mark.parametrize('major', [2, 3])
def test_rotate_of_a_missing_application_creates_it(major):
    transport = gotify(major, without=NAME, **{'POST /application': (200, load('v%d_create' % major))})
    result, dummy = run(transport, rotate=True)
    assert [w[:2] for w in transport.writes] == [('POST', '/application')]
    assert result['token_issued'] and result['token'] == (V2_NEW if major == 2 else V3_NEW)


# --- absent ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('major', [2, 3])
def test_absent_deletes(major):
    transport = gotify(major, **{'DELETE /application/1': (200, '')})
    result, dummy = run(transport, state='absent', token=V3_HELD)
    assert transport.writes == [('DELETE', '/application/1', None)]
    assert result['changed'] and result['application'] is None and not result['token_issued']
    assert 'token' not in result and result['diff']['after'] == dict(exists=False)


def test_absent_when_missing_does_nothing():
    transport = gotify(3, without=NAME)
    result, dummy = run(transport, state='absent')
    assert transport.writes == [] and not result['changed'] and result['application'] is None


# --- check mode -----------------------------------------------------------------------------------

@pytest.mark.parametrize('major, without, options, changed, issued, requests', [
    (3, NAME, {}, True, True, ['POST /application']),
    (2, NAME, {}, True, True, ['POST /application']),
    (3, None, dict(token=V3_HELD), False, False, []),
    (3, None, dict(token=V3_HELD, default_priority=8), True, False, ['PUT /application/1']),
    (3, None, {}, True, True, ['PUT /application/1/security']),
    (3, None, dict(token=V3_HELD, rotate=True), True, True, ['PUT /application/1/security']),
    (2, None, dict(token=V2_TOKEN, rotate=True), True, True, ['DELETE /application/1', 'POST /application']),
    (2, None, dict(state='absent'), True, False, ['DELETE /application/1']),
])
def test_check_mode_never_writes(major, without, options, changed, issued, requests):
    transport = gotify(major, without=without)  # no write route at all: a write would get a 404
    result, dummy = run(transport, check_mode=True, **options)
    assert transport.writes == []
    assert result['changed'] is changed and result['token_issued'] is issued and result['requests'] == requests
    assert 'token' not in result


def test_check_mode_predicts_the_application():
    result, dummy = run(gotify(3, without=NAME), check_mode=True)
    assert result['application'] == dict(id=None, name=NAME, description=DESCRIPTION, default_priority=5,
                                         internal=False, image='static/defaultapp.png', created_at=None,
                                         last_used=None, sort_key=None)
    result, dummy = run(gotify(3), check_mode=True, token=V3_HELD, default_priority=8)
    assert result['application']['id'] == 1 and result['application']['default_priority'] == 8


# --- errors ---------------------------------------------------------------------------------------

def test_duplicate_names_fail_naming_the_ids():
    apps = load('v3_applications') + [dict(load('v3_applications')[0], id=7, sortKey='a2')]
    transport = gotify(3, apps=apps)
    with pytest.raises(GotifyError) as exc:
        run(transport, token=V3_HELD)
    assert str(exc.value) == (
        "name='alertmanager': user admin has 2 Gotify applications with this name (ids 1, 7); the module manages one "
        "application per name, so delete or rename the extra ones in Gotify first")
    assert transport.writes == []


def test_401_names_the_user_never_the_password():
    transport = gotify(3, **{'GET /application': (401, load('error_401'))})
    with pytest.raises(GotifyError) as exc:
        run(transport)
    assert str(exc.value) == (
        'username=admin: Gotify at url=http://messaging_gotify:80 rejected the credentials (GET /application: '
        'HTTP 401 Unauthorized: you need to provide a valid access token or user credentials to access this api); '
        'check username and password')
    assert PASSWORD not in str(exc.value)


def test_unreachable_names_the_url():
    transport = gotify(3, **{'GET /version': TransportError('<urlopen error [Errno -2] Name or service not known>')})
    with pytest.raises(GotifyError) as exc:
        run(transport)
    assert str(exc.value) == ('url=http://messaging_gotify:80: cannot reach Gotify (GET /version): '
                              '<urlopen error [Errno -2] Name or service not known>')


def test_unexpected_status_carries_gotifys_error():
    transport = gotify(3, **{'PUT /application/1': (404, load('error_404_application'))})
    with pytest.raises(GotifyError) as exc:
        run(transport, token=V3_HELD, description='other')
    assert str(exc.value) == ("name='alertmanager' (id 1): PUT /application/1 at url=http://messaging_gotify:80 "
                              "failed: HTTP 404 Not Found: app with id 1 doesn't exists")


def test_not_gotify():
    transport = gotify(3, **{'GET /version': (200, '<html>Welcome to nginx</html>')})
    with pytest.raises(GotifyError) as exc:
        run(transport)
    assert str(exc.value) == ('url=http://messaging_gotify:80: GET /version did not answer with Gotify JSON '
                              '(HTTP 200: <html>Welcome to nginx</html>); is url the Gotify server?')


def test_v2_has_no_rotation_endpoint_so_the_module_never_calls_it():
    # what a wrong guess would meet: gin answers an unknown route with a plain-text 404
    transport = gotify(2, **{'PUT /application/1/security': (404, '404 page not found')})
    result, dummy = run(transport)
    assert transport.writes == [] and result['token'] == V2_TOKEN


@pytest.mark.parametrize('apps, listed_token, major_expected', [
    ('v2_applications', True, 2), ('v3_applications', False, 3)])
def test_unknown_version_is_told_by_the_listing(apps, listed_token, major_expected):
    assert _gotify.major_version('unknown', load(apps)) == major_expected
    assert _gotify.major_version('unknown', []) == 3
    assert _gotify.major_version('2.9.1', []) == 2 and _gotify.major_version('3.0.0', load('v2_applications')) == 3


# --- diff -----------------------------------------------------------------------------------------

def test_diff_masks_tokens():
    transport = gotify(3, **{'PUT /application/1/security': (200, load('v3_security')),
                             'PUT /application/1': (200, load('v3_update'))})
    result, dummy = run(transport, description='Alerts from Prometheus', default_priority=8)
    diff = result['diff']
    assert diff['before'] == dict(exists=True, id=1, name=NAME, description=DESCRIPTION, default_priority=5,
                                  token='********')
    assert diff['after'] == dict(exists=True, id=1, name=NAME, description='Alerts from Prometheus',
                                 default_priority=8, token='******** (new)')
    assert diff['before_header'] == 'gotify application alertmanager'
    assert not any(token in json.dumps(diff) for token in ALL_TOKENS)


def test_diff_of_a_creation():
    transport = gotify(2, without=NAME, **{'POST /application': (200, load('v2_create'))})
    result, dummy = run(transport)
    assert result['diff']['before'] == dict(exists=False)
    assert result['diff']['after']['token'] == '******** (new)' and V2_NEW not in json.dumps(result['diff'])


# --- the real transport, with open_url patched -----------------------------------------------------

class FakeHTTPResponse(object):
    def __init__(self, status, body):
        self.status, self.body = status, body

    def getcode(self):
        return self.status

    def read(self):
        return self.body.encode('utf-8')


def test_url_transport_sends_basic_auth_json_and_no_redirects(monkeypatch):
    calls = []

    def fake_open_url(url, **kwargs):
        calls.append((url, kwargs))
        return FakeHTTPResponse(200, json.dumps(load('v3_create')))

    monkeypatch.setattr(_gotify, 'open_url', fake_open_url)
    transport = UrlTransport(params(url='https://gotify.example.org/', ca_path='/etc/ca.pem', timeout=3))
    response = transport.request('POST', '/application', dict(name=NAME))
    assert response.status == 200 and response.json()['token'] == V3_NEW
    url, kwargs = calls[0]
    assert url == 'https://gotify.example.org/application'
    assert kwargs['data'] == b'{"name": "alertmanager"}' and kwargs['method'] == 'POST'
    assert kwargs['headers']['Content-Type'] == 'application/json'
    assert kwargs['url_username'] == 'admin' and kwargs['url_password'] == PASSWORD and kwargs['force_basic_auth']
    assert kwargs['ca_path'] == '/etc/ca.pem' and kwargs['timeout'] == 3 and kwargs['validate_certs']
    assert kwargs['follow_redirects'] == 'none' and kwargs['use_netrc'] is False
    transport.request('GET', '/version', auth=False)
    assert 'url_password' not in calls[1][1]


def test_url_transport_maps_http_errors_and_unreachable(monkeypatch):
    def http_error(url, **kwargs):
        raise HTTPError(url, 401, 'Unauthorized', {}, io.BytesIO(json.dumps(load('error_401')).encode()))

    monkeypatch.setattr(_gotify, 'open_url', http_error)
    response = UrlTransport(params()).request('GET', '/application')
    assert response.status == 401 and response.json()['errorCode'] == 401

    def unreachable(url, **kwargs):
        raise URLError(ConnectionRefusedError(111, 'Connection refused'))

    monkeypatch.setattr(_gotify, 'open_url', unreachable)
    with pytest.raises(TransportError) as exc:
        UrlTransport(params()).request('GET', '/version')
    assert str(exc.value) == '[Errno 111] Connection refused'


def test_url_transport_reports_a_redirect(monkeypatch):
    def redirect(url, **kwargs):
        raise HTTPError(url, 301, 'Moved Permanently', {'Location': 'https://gotify.example.org/version'},
                        io.BytesIO(b''))

    monkeypatch.setattr(_gotify, 'open_url', redirect)
    client = GotifyClient(UrlTransport(params()), params())
    with pytest.raises(GotifyError) as exc:
        client.version()
    assert str(exc.value) == ('GET /version at url=http://messaging_gotify:80 failed: HTTP 301: redirected to '
                              'https://gotify.example.org/version; set url to the address Gotify answers on')


# --- main(): the argument spec and the result -------------------------------------------------------

def run_main(monkeypatch, module_result, args, transport, check_mode=False, diff=False):
    args = dict(dict(url='http://messaging_gotify:80', username='admin', password=PASSWORD, name=NAME), **args)
    args.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
    monkeypatch.setattr(mod, 'UrlTransport', lambda p: transport)
    return module_result(mod.main, args)


@pytest.mark.parametrize('args, message', [
    (dict(default_priority=11), 'default_priority=11 is out of range: Gotify priorities go from 0 to 10'),
    (dict(url='messaging_gotify:80'), "url='messaging_gotify:80' is not an http:// or https:// address"),
    (dict(name=' '), "name=' ': Gotify needs a non-empty application name"),
    (dict(timeout=0), 'timeout=0 must be a positive number of seconds'),
    (dict(state='gone'), 'value of state must be one of: present, absent, got: gone'),
])
def test_main_rejects_bad_options_before_any_request(monkeypatch, module_result, args, message):
    transport = gotify(3)
    result = run_main(monkeypatch, module_result, args, transport)
    assert result['failed'] and message in result['msg']
    assert transport.sent == []


def test_main_result(monkeypatch, module_result):
    transport = gotify(3, without=NAME, **{'POST /application': (200, load('v3_create'))})
    result = run_main(monkeypatch, module_result, dict(description=DESCRIPTION, default_priority=5), transport, diff=True)
    assert sorted(result) == ['application', 'changed', 'diff', 'invocation', 'requests', 'token', 'token_issued',
                              'version']
    assert result['token'] == V3_NEW and result['changed'] and result['token_issued']
    assert result['invocation']['module_args']['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert PASSWORD not in json.dumps(result)


def test_main_keep_without_diff(monkeypatch, module_result):
    transport = gotify(3)
    result = run_main(monkeypatch, module_result, dict(description=DESCRIPTION, default_priority=5, token=V3_HELD), transport)
    assert sorted(result) == ['application', 'changed', 'invocation', 'requests', 'token_issued', 'version']
    assert not result['changed'] and transport.writes == []
    assert V3_HELD not in json.dumps(result)


def test_main_check_mode(monkeypatch, module_result):
    transport = gotify(3)
    result = run_main(monkeypatch, module_result, dict(description=DESCRIPTION, default_priority=5), transport,
                      check_mode=True, diff=True)
    assert result['changed'] and result['token_issued'] and 'token' not in result
    assert result['diff']['after']['token'] == '******** (new)' and transport.writes == []


def test_main_401(monkeypatch, module_result):
    transport = gotify(2, **{'GET /application': (401, load('error_401'))})
    result = run_main(monkeypatch, module_result, {}, transport)
    assert result['failed'] and not result['changed'] and result['requests'] == []
    assert result['msg'].startswith('username=admin: Gotify at url=http://messaging_gotify:80 rejected the credentials')
    assert PASSWORD not in json.dumps(result)
