"""KMPS, the management portal of the pivoine.kompose service network.

A small server-rendered web application behind Traefik and OAuth2 Proxy: the overview of every
stack and service, users and groups in the site's Keycloak realm, the realm's clients (read-only),
restarting one service, and the audit log of every write. See README.md beside this package.
"""

__version__ = "0.1.0"
