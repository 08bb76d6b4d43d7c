"""A stand-in for the Gotify bridge: receives Alertmanager's webhook posts until every expected alert came.

Usage: webhook_receiver.py <bind address> <port> <timeout seconds> <alertname>...
Prints one JSON object, alertname -> {"path", "receiver", "status"} of the first post that carried it
(for every alert that arrived, expected or not), and exits 0 when every expected alertname arrived,
1 when the time ran out first.
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the name http.server calls)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()
        try:
            payload = json.loads(body)
        except ValueError:
            return
        if not isinstance(payload, dict):  # not Alertmanager's webhook form
            return
        for alert in payload.get("alerts") or []:
            name = alert.get("labels", {}).get("alertname") if isinstance(alert, dict) else None
            if name is not None and name not in self.server.found:
                self.server.found[name] = {"path": self.path, "receiver": payload.get("receiver"), "status": payload.get("status")}

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


def main():
    address, port, timeout, expected = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), set(sys.argv[4:])
    server = HTTPServer((address, port), Handler)
    server.expected, server.found, server.timeout = expected, {}, 1
    deadline = time.monotonic() + timeout
    while not expected <= set(server.found) and time.monotonic() < deadline:
        server.handle_request()
    server.server_close()
    print(json.dumps(server.found))
    return 0 if expected <= set(server.found) else 1


if __name__ == "__main__":
    sys.exit(main())
