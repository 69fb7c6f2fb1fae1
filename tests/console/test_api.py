"""The REST API's behaviour over real HTTP: alert filters and keyset pages, triage with
history and audit, quarantine show/download/delete, dashboard, metrics, intel look-up,
and hostile parameters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from console_util import PASSWORD, SAMPLES, LiveConsole, add_alerts, client, sign_in

from floodwall.console import audit


@pytest.fixture
def viewer(live: LiveConsole) -> Iterator[httpx.Client]:
    with closing(client(live.base, token=live.tokens["narrow"])) as c:
        yield c


@pytest.fixture
def analyst(live: LiveConsole) -> Iterator[httpx.Client]:
    with closing(sign_in(live.base, "analyst", PASSWORD)) as c:
        yield c


def _ids(c: httpx.Client, **params: Any) -> list[str]:
    r = c.get("/api/alerts", params=params)
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["items"]]


def test_filters(live: LiveConsole, viewer: httpx.Client) -> None:
    ids = live.alerts  # SAMPLES in order, one hour apart
    assert _ids(viewer) == ids[::-1]  # newest first
    assert set(_ids(viewer, source="mail")) == {ids[2], ids[4]}
    assert set(_ids(viewer, source="logs")) == {ids[0], ids[1], ids[3]}
    assert set(_ids(viewer, level="high")) == {ids[0], ids[2], ids[3]}
    assert _ids(viewer, origin="internal") == [ids[4]]
    assert _ids(viewer, country="ru") == [ids[0]]
    assert set(_ids(viewer, technique="T1566")) == {ids[2], ids[4]}  # sub-techniques too
    assert _ids(viewer, technique="T1204.002") == [ids[4]]
    assert set(_ids(viewer, campaign="camp-1")) == {ids[0], ids[1]}
    assert _ids(viewer, status="acknowledged") == []
    created = viewer.get(f"/api/alerts/{ids[2]}").json()["created"]
    assert set(_ids(viewer, since=created)) == {ids[2], ids[3], ids[4]}
    assert set(_ids(viewer, until=created)) == {ids[0], ids[1]}
    for bad in ({"level": "huge"}, {"source": "x"}, {"status": "gone"}, {"origin": "mars"},
                {"cursor": "!!!"}, {"cursor": "WzEsMl0"}, {"since": "yesterday"},
                {"limit": 0}, {"limit": 10_000}):  # fmt: skip
        r = viewer.get("/api/alerts", params=bad)
        assert r.status_code in (400, 422), (bad, r.status_code, r.text)


def test_keyset_pages_cover_everything_once(live: LiveConsole, viewer: httpx.Client) -> None:
    from datetime import UTC, datetime, timedelta

    more = add_alerts(live.store, SAMPLES * 5, datetime.now(UTC) - timedelta(days=3))
    expected = set(live.alerts) | set(more)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = viewer.get("/api/alerts", params=params).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == expected
    created = [viewer.get(f"/api/alerts/{i}").json()["created"] for i in seen[:6]]
    assert created == sorted(created, reverse=True)


def test_triage_flow_keeps_history_and_audit(
    live: LiveConsole, analyst: httpx.Client, viewer: httpx.Client
) -> None:
    aid = live.alerts[1]
    post = analyst.post
    assert post(
        f"/api/alerts/{aid}/status", json={"status": "resolved", "comment": " "}
    ).status_code in (400, 422)
    assert (
        post(
            f"/api/alerts/{aid}/status", json={"status": "acknowledged", "comment": "looking"}
        ).status_code
        == 200
    )
    assert (
        post(
            f"/api/alerts/{aid}/status", json={"status": "acknowledged", "comment": "again"}
        ).status_code
        == 409
    )
    assert (
        post(
            f"/api/alerts/{aid}/assign", json={"assignee": "analyst", "comment": "mine"}
        ).status_code
        == 200
    )
    assert post(f"/api/alerts/{aid}/assign", json={"assignee": "nobody-here"}).status_code == 400
    assert (
        post(
            f"/api/alerts/{aid}/status", json={"status": "false_positive", "comment": "admin tool"}
        ).status_code
        == 200
    )
    assert (
        post("/api/alerts/nope/status", json={"status": "open", "comment": "x"}).status_code == 404
    )
    shown = viewer.get(f"/api/alerts/{aid}").json()
    assert shown["status"] == "false_positive" and shown["assignee"] == "analyst"
    steps = [(h["action"], h["from"], h["to"], h["comment"], h["actor"]) for h in shown["history"]]
    assert steps == [
        ("status", "open", "acknowledged", "looking", "analyst"),
        ("assign", None, "analyst", "mine", "analyst"),
        ("status", "acknowledged", "false_positive", "admin tool", "analyst"),
    ]
    assert _ids(viewer, status="false_positive") == [aid]
    assert _ids(viewer, assignee="analyst") == [aid]
    actions = [e.action for e in audit.entries(live.store.connection, limit=10)]
    assert actions[:3] == ["alert_status", "alert_assign", "alert_status"]  # newest first


def test_quarantine_show_never_sends_bytes_and_download_is_audited(
    live: LiveConsole, analyst: httpx.Client, viewer: httpx.Client
) -> None:
    held = live.extras["held"]
    (listed,) = viewer.get("/api/quarantine").json()
    assert listed["id"] == held and "file" not in listed
    shown = viewer.get(f"/api/quarantine/{held}")
    assert shown.status_code == 200
    facts = shown.json()
    assert facts["verdict"] and facts["symbols"] and facts["headers"]
    assert any(a["name"] == "invoice.pdf.exe" for a in facts["attachments"])
    assert "TVqQ" not in shown.text  # the executable's bytes are not in the facts
    assert viewer.post(f"/api/quarantine/{held}/download", json={"reason": "x"}).status_code == 403
    assert analyst.post(f"/api/quarantine/{held}/download", json={"reason": ""}).status_code == 422
    got = analyst.post(f"/api/quarantine/{held}/download", json={"reason": "forensics ticket 7"})
    assert got.status_code == 200 and b"TVqQ" in got.content
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    entry = audit.entries(live.store.connection, action="quarantine_download")[0]
    assert entry.actor == "analyst" and "forensics ticket 7" in entry.detail
    for bad in ("zz", "0" * 32, "../../etc/passwd"):
        r = viewer.get(f"/api/quarantine/{bad}")
        assert r.status_code in (400, 404), (bad, r.status_code)
    gone = analyst.post(f"/api/quarantine/{held}/delete", json={"reason": "spam"})
    assert gone.status_code == 200
    assert analyst.post(f"/api/quarantine/{held}/release", json={"reason": "x"}).status_code == 409


def test_release_to_a_refusing_next_hop_keeps_it_held(
    live: LiveConsole, analyst: httpx.Client
) -> None:
    held = live.extras["held"]
    live.extras["sink"].data_reply = "554 5.7.1 refused"
    r = analyst.post(f"/api/quarantine/{held}/release", json={"reason": "try"})
    assert r.status_code == 502 and "stays held" in r.text
    assert analyst.get(f"/api/quarantine/{held}").json()["status"] == "held"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/dashboard", {"day": "0001-01-01"}),  # its trend would reach before year 1
        ("/api/dashboard", {"day": "9999-12-31"}),  # its end would be after year 9999
        ("/api/figures/day", {"day": "1969-12-31"}),
        ("/api/figures/range", {"start": "0001-01-01", "end": "0001-01-02"}),
        ("/", {"day": "0001-01-01"}),
    ],
)
def test_days_out_of_range_are_refused(
    viewer: httpx.Client, path: str, params: dict[str, str]
) -> None:
    r = viewer.get(path, params=params)
    assert r.status_code == 422, (r.status_code, r.text[:300])


def test_dashboard_campaigns_metrics_and_intel(live: LiveConsole, viewer: httpx.Client) -> None:
    dash = viewer.get("/api/dashboard").json()
    top = dash["top"]
    assert dash["figures"]["day"] == dash["day"] and len(dash["figures_trend"]) == 30
    assert viewer.get("/api/figures/day", params={"day": dash["day"]}).json() == dash["figures"]
    # The sample alerts have no event time: they count on the day they were stored.
    rows = live.store.connection.execute(
        "SELECT host, campaign_id FROM alerts WHERE substr(created, 1, 10) = ?", (dash["day"],)
    ).fetchall()
    hosts = sorted({h for h, _ in rows}, key=lambda h: (-sum(r[0] == h for r in rows), h))
    assert [h["key"] for h in top["hosts"]] == hosts
    assert sum(h["alerts"] for h in top["hosts"]) == len(rows)
    assert sum(c["alerts"] for c in top["campaigns"]) == sum(1 for _, c in rows if c)
    (camp,) = viewer.get("/api/campaigns").json()
    assert camp["id"] == "camp-1" and camp["shared_keys"] == [{"key": "asn:64500", "members": 2}]
    assert viewer.get("/api/campaigns", params={"since": "2026-11-25"}).json() == []
    one = viewer.get("/api/campaigns/camp-1").json()
    assert {m["id"] for m in one["members"]} == set(live.alerts[:2])
    assert viewer.get("/api/campaigns/none").status_code == 404
    metrics = viewer.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert f'floodwall_alerts{{status="open"}} {len(live.alerts)}' in metrics.text
    assert "# TYPE floodwall_quarantine_messages gauge" in metrics.text
    look = viewer.get("/api/intel/lookup", params={"value": "10.1.2.3"}).json()
    assert look["indicators"] == [] and look["origin"]["origin"] == "internal"


@pytest.mark.parametrize(
    "path",
    ["/api/alerts?country=%FF%FE", "/api/alerts/%FF", "/api/alerts?technique=%00",
     "/api/quarantine/%FF%FE", "/api/campaigns/%C0%80", "/api/intel/lookup?value=%FF",
     "/api/alerts?cursor=" + "A" * 400, "/api/figures/range?start=2026-01-01&end=2020-01-01"],
)  # fmt: skip
def test_hostile_parameters_get_a_clear_answer(viewer: httpx.Client, path: str) -> None:
    r = viewer.get(path)
    assert 200 <= r.status_code < 500 and r.status_code not in (401, 403), (path, r.text)
    if r.status_code >= 400:
        assert "detail" in r.json()


def test_hostile_bodies(analyst: httpx.Client, live: LiveConsole) -> None:
    aid = live.alerts[0]
    for body in (b"{", b"\xff\xfe", b"[]", b'{"status": 1, "comment": []}', b"x" * 2_000_000):
        r = analyst.post(
            f"/api/alerts/{aid}/status", content=body,
            headers={"content-type": "application/json"},
        )  # fmt: skip
        assert r.status_code == 422, (body[:20], r.status_code)


def test_bulk_status(live: LiveConsole, analyst: httpx.Client, viewer: httpx.Client) -> None:
    ids = live.alerts[:3]
    body = {"ids": [*ids, ids[0], "missing"], "status": "acknowledged", "comment": "batch"}
    r = analyst.post("/api/alerts/bulk/status", json=body)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [results[i] for i in ids] == ["changed"] * 3 and "no alert" in results["missing"]
    again = analyst.post("/api/alerts/bulk/status", json={**body, "ids": ids[:1]}).json()
    assert "cannot become" in again["results"][ids[0]]
    empty = analyst.post("/api/alerts/bulk/status", json={**body, "comment": " "})
    assert empty.status_code == 400
    assert (
        len(
            analyst.post("/api/alerts/bulk/status", json={**body, "ids": ["x"] * 501}).json()[
                "detail"
            ]
        )
        == 1
    )
    assert set(_ids(viewer, status="acknowledged")) == set(ids)


def test_audit_paging_refuses_numbers_sqlite_cannot_hold(live: LiveConsole) -> None:
    # Found by schemathesis: a cursor past 2**63 - 1 reached SQLite and answered 500.
    with closing(sign_in(live.base, "admin", PASSWORD)) as admin:
        assert admin.get("/api/audit", params={"before": 2**63}).status_code == 422
        assert admin.get("/api/audit", params={"before": 2**63 - 1}).status_code == 200
