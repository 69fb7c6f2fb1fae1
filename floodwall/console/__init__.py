"""Stage console: the web UI and REST API read the store (issue 5)."""
