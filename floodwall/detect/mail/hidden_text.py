"""HTML that lays text out far beyond the visible page: pushed thousands of pixels down
or aside, or into a box many screens tall. The reader sees a short lure; a filter that
reads the text also reads the padding (an unrelated newsletter, random words) that is
there only to make the message look like something else (T1027, T1566).

Honest layouts measure the page in tens or hundreds of pixels; email clients have no
scrolling canvas that needs 5,000. Only CSS lengths are read (CSS Values and Units
Level 3, section 6), in style attributes and style sheets alike.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from floodwall.detect.mail.findings import detector_finding
from floodwall.detect.sigma.prefilter import HyperscanCache, has_match
from floodwall.records import Finding, MailMessage, Severity

MAX_HTML = 1_000_000  # past the first megabyte of HTML, nothing is read
#: From these lengths on, the text is out of any reader's view.
MIN_PIXELS = 5000
MIN_VIEWPORTS = 500  # vh or vw: hundredths of the window

# A placing property, then its length: margins, offsets, indents, paddings and box
# heights (a wide box hides nothing: it is only scrolled).
_LENGTH = re.compile(
    r"(?<![\w-])(margin(?:-top|-left|-right|-bottom)?|top|left|right|bottom|text-indent"
    r"|height|min-height|padding(?:-top|-left)?)\s*:\s*"
    r"(-?\d{3,9})(?:\.\d+)?\s*(px|vh|vw)\b",
    re.IGNORECASE,
)


# A number that large before a unit, not the decimals of another ("14.399999999px"): what
# every far length holds (4 or more significant digits for px, 3 for vh and vw), found by
# Hyperscan at memory speed. Most HTML has none, and then the pattern above, which
# Python's re tries at every character (400 µs for an average message), is not run.
_FAR = (
    rb"(?:^|[^0-9.])0*(?:[5-9]\d{3}|[1-9]\d{4,8})(?:\.\d+)?\s*px",
    rb"(?:^|[^0-9.])0*(?:[5-9]\d{2}|[1-9]\d{3,8})(?:\.\d+)?\s*v[hw]",
)


def has_far_number(html: str, db: Any) -> bool:
    """Whether ``html`` (its first ``MAX_HTML`` characters) has a number that large
    before a unit; ``db``: ``_FAR`` compiled (``far_numbers_db``)."""
    return has_match(db, html[:MAX_HTML].encode("utf-8", "surrogatepass"))


def far_numbers_db() -> Any:
    """``_FAR`` as a Hyperscan database (ASCII case folded)."""
    return HyperscanCache().keyed_patterns("mail.hidden_text far", lambda: _FAR, caseless=True)


def far_lengths(html: str) -> list[str]:
    """The declarations in ``html`` that place content out of view (``margin-top:
    470500px``), as written."""
    out = []
    for m in _LENGTH.finditer(html[:MAX_HTML]):
        value, unit = abs(int(m.group(2))), m.group(3).lower()
        if value >= (MIN_PIXELS if unit == "px" else MIN_VIEWPORTS):
            out.append(m.group(0))
    return out


class HiddenTextDetector:
    """HTML body with CSS that moves content thousands of pixels out of view."""

    id: ClassVar[str] = "mail.hidden_text"
    title: ClassVar[str] = "Text hidden out of view"
    severity: ClassVar[Severity] = Severity.MEDIUM
    attack: ClassVar[tuple[str, ...]] = ("T1027", "T1566")

    def __init__(self) -> None:
        self._far = far_numbers_db()

    def detect(self, msg: MailMessage) -> list[Finding]:
        if not msg.html or not has_far_number(msg.html, self._far):
            return []
        found = far_lengths(msg.html)
        if not found:
            return []
        shown = ", ".join(dict.fromkeys(found))[:200]
        reason = f"CSS places content out of view: {shown}"
        return [detector_finding(self, {"reason": reason, "declarations": len(found)})]
