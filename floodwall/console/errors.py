"""What the console's stores refuse, mapped to HTTP answers in ``http.py``."""

from __future__ import annotations


class ConsoleError(Exception):
    """A refusal with a message safe to show the caller."""

    status = 400


class InputError(ConsoleError):
    """The request is well-formed but its values are not acceptable (400)."""

    status = 400


class NotFoundError(ConsoleError):
    """No such alert, message, user or token (404)."""

    status = 404


class ConflictError(ConsoleError):
    """The object is not in a state that allows the action (409)."""

    status = 409


class UpstreamError(ConsoleError):
    """The next hop (SMTP relay) refused or could not be reached (502)."""

    status = 502


class UnavailableError(ConsoleError):
    """A part the action needs is not configured or not installed (503)."""

    status = 503
