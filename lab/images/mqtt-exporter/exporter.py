# Upstream's start script, as kpetremann/mqtt-exporter v1.7.2 ships it (exporter.py, MIT License,
# Copyright (c) 2019 Kevin Petremann): the image's CMD runs it as upstream's does; mqtt_exporter
# itself comes from the virtualenv (the pinned wheel), not from a copy next to this file.
"""Start script."""

from mqtt_exporter.main import main

if __name__ == "__main__":
    main()
