"""The campaign pages read store/campaigns.py (the same rows as the API), over real HTTP."""

from __future__ import annotations

from contextlib import closing

from console_util import PASSWORD, LiveConsole, sign_in

from floodwall.console.ui.charts import day_series


def test_campaign_list_and_detail_come_from_the_campaign_store(live: LiveConsole) -> None:
    with live.store.write() as conn:
        conn.execute(
            "UPDATE campaigns SET origins = ?, techniques = ?, targets = ?, timeline = ?,"
            " confidence_reason = 'one network' WHERE id = 'camp-1'",
            ('[{"origin": "abroad/RU", "members": 2, "share": 1.0}]',
             '[{"id": "T1059.001", "members": 1}]',
             '{"hosts": ["ws1", "ws2"], "recipients": []}',
             '[{"day": "2026-11-22", "members": 1}, {"day": "2026-11-24", "members": 1}]'),
        )  # fmt: skip
    with closing(sign_in(live.base, "viewer", PASSWORD)) as c:
        listing = c.get("/campaigns")
        assert listing.status_code == 200
        assert "/campaigns/camp-1" in listing.text and "asn:64500" in listing.text
        assert "abroad/RU" in listing.text and "conf-medium" in listing.text
        page = c.get("/campaigns/camp-1")
        assert page.status_code == 200
        text = page.text
        assert '<td class="path">asn:64500</td><td class="n">2</td>' in text
        assert "100%" in text and "one network" in text
        assert "https://attack.mitre.org/techniques/T1059/001" in text
        assert "ws2" in text and 'aria-label="timeline"' in text
        for alert in live.alerts[:2]:  # the members, linked to their alerts
            assert f'href="/alerts/{alert}"' in text
        assert c.get("/campaigns/none").status_code == 404
        assert c.get("/campaigns/" + "%FF" * 50).status_code == 404


def test_day_series_fills_quiet_days_and_skips_bad_rows() -> None:
    rows = [{"day": "2026-11-20", "members": 2}, {"day": "2026-11-23", "members": 1},
            {"day": "not a day", "members": 5}, {"members": 1}, {"day": "2026-11-21"}]  # fmt: skip
    assert day_series(rows) == [
        ("2026-11-20", 2), ("2026-11-21", 0), ("2026-11-22", 0), ("2026-11-23", 1)
    ]  # fmt: skip
    far = day_series([{"day": "2026-11-20", "members": 1}, {"day": "9999-12-31", "members": 1}])
    assert far == [("2026-11-20", 1), ("9999-12-31", 1)]  # no 2.9 million empty columns
    assert day_series([]) == []
