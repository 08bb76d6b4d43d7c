"""``python -m kompose_events``: the same as the ``kompose-events`` command."""

from .service.cli import main

raise SystemExit(main())
