"""NewlySeenDomainDetector: links to domains the organisation's mail never named, or
named first only days ago; silent while the history is too short."""

from __future__ import annotations

from pathlib import Path

import mail_util as util
import pytest

from floodwall.detect.mail.domains import MAX_LINKS, message_domains
from floodwall.detect.mail.newly_seen_domain import DAY, MAX_NAMED, NewlySeenDomainDetector
from floodwall.enrich.domain_history import DomainHistory
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
SAMPLE = (
    Path(__file__).parents[2] / "samples" / "detect" / "mail" / "newly_seen_domain" / "sample.eml"
)
NOW = 2_000_000_000.0
POPULAR = frozenset({"google.com", "microsoft.com"})
# A month of history: these domains were first seen 30, 20 and 3 days ago.
KNOWN = {"supplier.example": NOW - 30 * DAY, "news.example": NOW - 20 * DAY,
         "fresh.example": NOW - 3 * DAY}  # fmt: skip


def detector(history: DomainHistory | None = None) -> NewlySeenDomainDetector:
    history = history if history is not None else DomainHistory(KNOWN)
    return NewlySeenDomainDetector(
        util.psl(), history, POPULAR, ["acme.example.com"], 7.0, 14.0, clock=lambda: NOW
    )


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (["https://login.phish-landing.example/x"], True),  # never seen
        (["https://www.fresh.example/offer"], True),  # first seen 3 days ago
        (["https://supplier.example/invoice", "http://new.example/"], True),
        (["https://supplier.example/invoice"], False),  # seen for a month
        (["https://mail.news.example/a", "https://news.example/b"], False),
        (["https://docs.google.com/forms/x"], False),  # a well-known site
        (["https://portal.acme.example.com/"], False),  # the organisation's own
        (["http://203.0.113.9/login"], False),  # IP literals: ip_literal_url's
        (["mailto:someone@new.example", "tel:+15550100"], False),  # not web links
        (["https://"], False),  # no host
        ([], False),
    ],
)
def test_newly_seen_domain(links: list[str], expected: bool) -> None:
    msg = make_msg(links=links, from_addr="news@supplier.example")
    assert fired(detector(), msg) is expected


def test_silent_while_the_history_is_short() -> None:
    young = DomainHistory({"supplier.example": NOW - 10 * DAY})
    det = detector(young)
    assert not young.has_baseline(14 * DAY, NOW)
    assert not fired(det, make_msg(links=["https://never.example/"]))
    assert not fired(detector(DomainHistory()), make_msg(links=["https://never.example/"]))
    assert DomainHistory(KNOWN).has_baseline(14 * DAY, NOW)


def test_a_campaign_is_new_on_every_message_of_the_week() -> None:
    history = DomainHistory(KNOWN)
    det, msg = detector(history), make_msg(links=["https://campaign.example/login"])
    assert fired(det, msg)
    history.observe(message_domains(msg, util.psl()), NOW - 60)  # the scanner saw it
    (finding,) = det.detect(msg)
    assert "campaign.example (first seen 1 min ago)" in finding.evidence["reason"]


def test_names_at_most_a_few_domains() -> None:
    links = [f"https://n{i}.example/" for i in range(MAX_LINKS * 2)]
    (finding,) = detector().detect(make_msg(links=links))
    assert len(finding.evidence["domains"]) == MAX_LINKS  # links past MAX_LINKS unread
    assert finding.evidence["reason"].endswith(f"and {MAX_LINKS - MAX_NAMED} more")
    assert len(finding.observables) == MAX_NAMED


def test_history_keeps_first_sightings() -> None:
    history = DomainHistory()
    history.observe(["a.example"], NOW)
    history.observe(["a.example", "b.example"], NOW + 10)
    history.merge({"a.example": NOW - 5, "b.example": NOW + 99, "c.example": NOW + 1})
    assert [history.first_seen(d) for d in ("a.example", "b.example", "c.example")] == [
        NOW - 5, NOW + 10, NOW + 1
    ]  # fmt: skip
    assert history.since == NOW - 5 and history.learned_for(NOW) == 5
    assert history.first_seen("z.example") is None and len(history) == 3


def test_hostile_message_is_bounded() -> None:
    links = [f"https://{'a' * 60}.{'b' * 60}.{i}.example/" for i in range(50_000)]
    links += ["https://\udcff.example/", "https://[::1]/", "http://%00/"]
    msg = make_msg(links=links, from_addr="x@\udcff")
    assert len(message_domains(msg, util.psl())) <= MAX_LINKS + 1
    assert fired(detector(), msg)


def test_sample_fires() -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = detector(DomainHistory({**KNOWN, "example.org": NOW - 40 * DAY})).detect(msg)
    assert finding.evidence["domains"] == ["example.net"]
