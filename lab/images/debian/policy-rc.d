#!/bin/sh
# No init system in a container: never start services from package maintainer scripts.
exit 101
