"""The one message builder of the sample scripts in this folder (they import it by name:
a script's own folder is on ``sys.path``; tests/detect/mail/conftest.py registers it too)."""

from __future__ import annotations

from email.message import EmailMessage


def message(
    subject: str,
    files: list[tuple[str, bytes, str]],
    body: str = "Please see the attachment.",
    boundary: str | None = None,
) -> bytes:
    """A harmless message from a billing look-alike carrying ``files`` (name, data, mime).

    A fixed ``boundary`` makes regenerating the sample give the same bytes.
    """
    msg = EmailMessage()
    msg["From"] = "Accounts <billing@example.com>"
    msg["To"] = "victim@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-').lower()}@example.com>"
    msg.set_content(body)
    for name, data, mime in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if boundary:
        msg.set_boundary(boundary)
    return bytes(msg)
