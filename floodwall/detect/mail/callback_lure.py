"""Callback phishing (TOAD, telephone-oriented attack delivery): a bill for an order or a
renewal the reader never made (Norton, Geek Squad, PayPal, "your membership renewed"),
an amount, and a phone number to call to cancel or dispute it (T1566.004, T1598).

The call is the attack, so the message has no web link to act on: a real shop's
confirmation has amounts and phone numbers too, but it links to the shop. The text of
the plain and the HTML part is read; text in a PDF or an image is not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import accumulate
from typing import ClassVar

from floodwall.detect.mail.credential_wording import fold
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Severity

MAX_TEXT = 200_000  # as prize_lure reads, so fold() folds the text once for both
MAX_AMOUNT = 10_000  # bills for software or a membership; advance-fee "funds" are larger

# 7 to 15 digits with up to 5 separators between two (spaces, dots, dashes, brackets:
# "+1 (888) (683) - (1189)", "8 8 8 . 5 5 5"); \d takes any Unicode digit ("𝟖𝟖𝟖").
# Separators and digits are disjoint, so a run splits one way only (no catastrophic
# backtracking), and the look-arounds keep it off longer runs of digits.
_SEP = r"[\s().\-\u2010-\u2015/]"
_PHONE = re.compile(rf"(?<![\w.])\+?\(?\d(?:{_SEP}{{0,5}}\d){{6,14}}(?!\w)")
_GROUP = re.compile(r"\d+")
# A currency sign or code before or after a number: "$ 909.99", "USD505.44", "49,99 €".
# A sign after a number starts only at the number's first digit, so a megabyte of
# digits is tried once, not at every digit.
_AMOUNT = re.compile(
    r"(?:[$€£₹]|\b(?:usd|eur|gbp|cad|aud)|\bus\$)\s{0,3}(\d[\d,.]{0,12})"
    r"|(?<![\d,.])(\d[\d,.]{0,12})\s?(?:[$€£₹](?!\s?\d)|(?:usd|eur|gbp|cad|aud|dollars?|euros?)\b)"
)
_BIG = re.compile(r"\s?(?:million|mil|billion|[mk])\b")  # "$10.5 million" is a fortune
_CENTS = re.compile(r"[.,]\d{1,2}$")
# What the message bills for; two different ones make a bill, not a passing word.
_BILL = re.compile(
    r"\b(?:order|invoice|receipt|renew(?:al|ed|s)?|auto[- ]?renew\w*|subscription|membership"
    r"|charged?|billed|billing|debit(?:ed)?|deducted|transaction|purchase[ds]?|payment)\b"
)
# Why the reader should pick up the phone, said next to the number: a service line
# ("Helpline:", "call us at") or the charge to stop ("to cancel", "not authorized"). A
# bare "Tel:", as in any signature, is no reason.
_CUE = re.compile(
    r"\b(?:call|contact|reach|hotline|help|support|billing|care\b|toll|cancel|dispute|refund"
    r"|unauthori[sz]ed|(?:not|n't) (?:recogni[sz]e|authori[sz]e))"
)
CUE_BEFORE, CUE_AFTER = 60, 40  # characters around the number
# Links nobody follows to a shop: mail, phone, in-page targets, and the answer buttons
# Google Calendar puts into an invitation (TOAD is also sent as calendar invitations).
_INERT = ("mailto:", "tel:", "sms:", "callto:", "cid:", "#")
_INERT_WEB = re.compile(r"https?://(?:calendar|support|www)\.google\.com/calendar/")
# A shop's address written out in plain text ("track it at www.shop.example") is a link
# to act on too, though no mail client makes it one.
_WRITTEN_LINK = re.compile(r"\bwww\.[a-z0-9-]+\.[a-z]")


def _digits(text: str) -> str:
    """The decimal digits of ``text`` as ASCII ("𝟖𝟖𝟖" -> "888")."""
    return "".join(str(unicodedata.digit(c)) for c in text if c.isdigit())


def phone_number(raw: str) -> str:
    """``raw`` as a phone number ("+1 888-555-0199"), or "" when it is none."""
    groups = _GROUP.findall(raw)
    if not raw.isascii():
        groups = [_digits(g) for g in groups]
    digits = "".join(groups)
    if raw.startswith("+") and not digits.startswith("1"):  # international (E.164)
        return f"+{digits}" if 8 <= len(digits) <= 15 else ""
    # North American: NXX NXX XXXX (N is 2-9), written 3-3-4, 3-7, in one run or digit
    # by digit; a "1" before it may stay off. The run may take in a price or a date
    # next to the number, so each part of it of 10 digits is tried (O(groups)).
    ends = list(accumulate(map(len, groups), initial=0))
    at = {count: k for k, count in enumerate(ends)}
    for i, before in enumerate(ends):
        j = at.get(before + 10)
        number = digits[before : before + 10]
        if j is None or number[0] < "2" or number[3] < "2":
            continue
        shape = [len(g) for g in groups[i:j]]
        if shape in ([3, 3, 4], [3, 7], [10]) or max(shape) == 1:
            return f"+1 {number[:3]}-{number[3:6]}-{number[6:]}"
    return ""


def phone_numbers(text: str) -> Iterator[tuple[re.Match[str], str]]:
    """The phone numbers in ``text`` (where, and as "+1 888-555-0199"): North American
    ones, and others written with a "+"."""
    for match in _PHONE.finditer(text):
        number = phone_number(match.group(0))
        if number:
            yield match, number


def billed_amount(text: str) -> str:
    """The first amount in ``text`` that a bill could ask for ("" if none)."""
    for m in _AMOUNT.finditer(text):
        number = (m.group(1) or m.group(2)).rstrip(".,")
        whole = _digits(_CENTS.sub("", number))
        if whole and int(whole) < MAX_AMOUNT and not _BIG.match(text, m.end()):
            return m.group(0).strip()
    return ""


class CallbackLureDetector:
    """A bill or renewal with an amount and a phone number to call, and no web link.

    Wording is a weak signal (issue 3); here it rides on structure (a number to call and
    nothing to click), and the policy weighs it below the tag threshold.
    """

    id: ClassVar[str] = "mail.callback_lure"
    title: ClassVar[str] = "Callback phishing (call to cancel a charge)"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566.004", "T1598")

    def detect(self, msg: MailMessage) -> list[Finding]:
        """One finding naming the amount and the number to call."""
        for link in msg.links:
            url = link.url.strip().lower()
            if not url.startswith(_INERT) and not _INERT_WEB.match(url):
                return []
        # msg.text holds the plain part and the HTML part's visible text alike
        text = fold(f"{msg.subject}\n{msg.text[:MAX_TEXT]}")
        if _WRITTEN_LINK.search(text):
            return []
        bills = {m.group(0)[:4] for m in _BILL.finditer(text)}  # "renewed" = "renewal"
        amount = billed_amount(text) if len(bills) >= 2 else ""
        if not amount:
            return []
        for phone, number in phone_numbers(text):
            start, end = phone.span()
            why = _CUE.search(text, max(0, start - CUE_BEFORE), end + CUE_AFTER)
            if why is not None:
                reason = (
                    f"a bill of {amount} with no web link asks the reader to call {number} "
                    f"({why.group(0)!r})"
                )
                return [detector_finding(self, {"reason": reason, "phone": number})]
        return []
