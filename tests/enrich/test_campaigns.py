"""Campaign clustering: stable whatever the order, capped keys never chain everything,
/24 and registered-domain keys, TLSH near-duplicates, origin confidence."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence

import numpy as np
import pytest

from floodwall.enrich.campaign_keys import CampaignKeyer, load_campaign_keyer, network_of
from floodwall.enrich.campaigns import (
    CampaignItem,
    ClusterLimits,
    ClusterResult,
    cluster_campaigns,
    connected_components,
    origin_confidence,
)
from floodwall.enrich.fuzzy import is_tlsh, near_duplicate_pairs, tlsh_digest, tlsh_distance
from floodwall.records import Attachment, Link, MailMessage, Observable, Origin


def run(items: Sequence[CampaignItem], limits: ClusterLimits | None = None) -> ClusterResult:
    return cluster_campaigns(lambda: items, limits)


def partition(result: ClusterResult) -> set[frozenset[str]]:
    return {frozenset(c.alert_ids + c.message_ids) for c in result.campaigns}


def naive_partition(items: Sequence[CampaignItem], cap: int) -> set[frozenset[str]]:
    """The reference: a plain dict-based union-find over keys held by 2..cap items."""
    holders: dict[str, set[int]] = {}
    for i, it in enumerate(items):
        for k in it.keys:
            holders.setdefault(k, set()).add(i)
    parent = list(range(len(items)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for members in holders.values():
        if 2 <= len(members) <= cap:
            first, *rest = sorted(members)
            for m in rest:
                parent[find(m)] = find(first)
    groups: dict[int, set[str]] = {}
    for i, it in enumerate(items):
        groups.setdefault(find(i), set()).add(it.id)
    return {frozenset(g) for g in groups.values() if len(g) >= 2}


def random_items(rng: random.Random, n: int) -> list[CampaignItem]:
    pool = [f"ip:198.51.100.{i}" for i in range(40)] + [f"dom:d{i}.example" for i in range(40)]
    pool += ["asn:64500"]  # held by many: capped below
    out = []
    for i in range(n):
        keys = tuple(dict.fromkeys(rng.sample(pool, rng.randint(0, 2))))
        if rng.random() < 0.5:
            keys += ("asn:64500",)
        day = rng.randint(1, 28)
        origin, country = rng.choice([("abroad", "RU"), ("abroad", "CN"), ("obscured", "NL"),
                                      ("unknown", None), ("domestic", "DE")])  # fmt: skip
        out.append(
            CampaignItem(
                rng.choice(["alert", "message"]),
                f"id{i:04d}",
                f"2026-03-{day:02d}T10:00:{i % 60:02d}",
                keys,
                (),
                origin,
                country,
                (rng.choice(["T1566.001", "T1204"]),),
                (f"host:h{i % 7}",),
            )
        )
    return out


def test_campaigns_are_the_same_whatever_order_the_items_come_in() -> None:
    rng = random.Random(4)
    limits = ClusterLimits(caps={"asn": 20, "ip": 1000, "dom": 1000})
    for _trial in range(5):
        items = random_items(rng, 300)
        expected = run(items, limits)
        assert expected.campaigns, "the generator should make some campaigns"
        assert partition(expected) == naive_partition(items, 20) - {frozenset()}
        for _order in range(6):
            shuffled = items[:]
            rng.shuffle(shuffled)
            got = run(shuffled, limits)
            assert got.campaigns == expected.campaigns
            assert got.too_common == expected.too_common


def test_campaign_ids_come_from_content_not_from_row_ids() -> None:
    a = [CampaignItem("alert", "x1", "2026-01-01T00:00:00", ("ip:203.0.113.9",)),
         CampaignItem("alert", "x2", "2026-01-02T00:00:00", ("ip:203.0.113.9",))]  # fmt: skip
    b = [CampaignItem("alert", "y9", "2026-01-02T00:00:00", ("ip:203.0.113.9",)),
         CampaignItem("alert", "y1", "2026-01-01T00:00:00", ("ip:203.0.113.9",))]  # fmt: skip
    (ca,), (cb,) = run(a).campaigns, run(b).campaigns
    assert ca.id == cb.id and ca.id.startswith("C") and len(ca.id) == 16
    assert ca.first_seen == "2026-01-01T00:00:00" and ca.last_seen == "2026-01-02T00:00:00"


def test_a_key_held_by_too_many_items_stops_joining_and_is_reported() -> None:
    items = []
    for group in range(3):
        for j in range(4):
            # each group shares its own address; all twelve share one big ASN
            items.append(CampaignItem("alert", f"g{group}-{j}", "2026-01-01T00:00:00",
                                      (f"ip:192.0.2.{group + 1}", "asn:3320")))  # fmt: skip
    capped = run(items, ClusterLimits(caps={"asn": 5}))
    assert len(capped.campaigns) == 3
    assert partition(capped) == {frozenset(f"g{g}-{j}" for j in range(4)) for g in range(3)}
    assert capped.too_common == (("asn:3320", 12),)
    for c in capped.campaigns:
        group = int(c.alert_ids[0][1])
        assert c.shared_keys == ((f"ip:192.0.2.{group + 1}", 4),)  # the capped ASN is not one
    chained = run(items, ClusterLimits(caps={"asn": 50}))
    assert len(chained.campaigns) == 1 and chained.too_common == ()


def test_single_items_and_unshared_keys_make_no_campaign() -> None:
    items = [CampaignItem("alert", f"a{i}", "2026-01-01T00:00:00", (f"ip:192.0.2.{i}",))
             for i in range(10)]  # fmt: skip
    result = run(items)
    assert result.campaigns == () and result.items == 10 and result.keys == 10
    assert run([]).campaigns == ()


@pytest.fixture(scope="module")
def keyer() -> CampaignKeyer:
    return load_campaign_keyer()


def test_slash_24_and_slash_48_keys_join_neighbouring_addresses(keyer: CampaignKeyer) -> None:
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    k1 = keyer.address_keys("77.88.8.1", 13238)
    k2 = keyer.address_keys("77.88.8.200", 13238)
    assert "net:77.88.8.0/24" in k1 and "net:77.88.8.0/24" in k2 and k1[0] != k2[0]
    v6 = keyer.address_keys("2a02:6b8:0:1::5", 13238)
    assert "net:2a02:6b8::/48" in v6
    # a hosting giant: the address is kept, its /24 and ASN are shared by too many
    assert keyer.address_keys("8.8.8.8", 15169) == ["ip:8.8.8.8"]
    assert keyer.address_keys("10.1.2.3", None) == []  # internal: not infrastructure
    assert keyer.address_keys("not an ip", 1) == ["asn:1"]
    items = [CampaignItem("alert", "a", "2026-01-01T00:00:00", tuple(k1)),
             CampaignItem("alert", "b", "2026-01-01T00:00:00", tuple(k2))]  # fmt: skip
    (c,) = run(items, ClusterLimits(caps={"asn": 1})).campaigns
    assert dict(c.shared_keys) == {"net:77.88.8.0/24": 2}


def test_registered_domain_keys_and_common_sites(keyer: CampaignKeyer) -> None:
    assert keyer.domain_key("login.secure-paypa1.co.uk") == "dom:secure-paypa1.co.uk"
    assert keyer.domain_key("WWW.Secure-Paypa1.CO.UK.") == "dom:secure-paypa1.co.uk"
    assert keyer.domain_key("login.microsoftonline.com") is None  # a top site: decoy links
    assert keyer.domain_key("gmail.com") is None  # freemail: anyone
    assert keyer.domain_key("co.uk") is None and keyer.domain_key("localhost") is None
    assert keyer.domain_key("192.0.2.1") is None
    assert keyer.domain_key("x.invalid-tld-zz") is None
    obs = (Observable("url", "https://a.evil-cdn.net/x?y=1"), Observable("email", "ceo@b.evil-cdn.net"),
           Observable("sha256", "AB" * 32), Observable("ip", "192.0.2.300"))  # fmt: skip
    assert keyer.observable_keys(obs, is_intel=False) == ["dom:evil-cdn.net", "dom:evil-cdn.net",
                                                          "hash:" + "ab" * 32]  # fmt: skip
    intel = keyer.observable_keys((Observable("ip", "45.9.148.3"),), is_intel=True)
    assert intel == ["ip:45.9.148.3", "c2:45.9.148.3"]


def message(sender: str, *, links: tuple[str, ...] = (), files: tuple[bytes, ...] = (),
            from_header: str = "") -> MailMessage:  # fmt: skip
    attachments = tuple(
        Attachment(
            f"f{i}.bin",
            f"f{i}.bin",
            0,
            len(d),
            f"{i:064x}",
            "application/octet-stream",
            "unknown",
            d,
        )
        for i, d in enumerate(files)
    )
    return MailMessage(
        Origin("t.eml", 1), "<m@x>", "0" * 64, (("from", from_header or sender),), sender, "",
        to=("Victim@Corp.example",), links=tuple(Link(u) for u in links), attachments=attachments,
    )  # fmt: skip


def test_message_keys_cover_sender_links_attachments_and_a_malformed_from(
    keyer: CampaignKeyer,
) -> None:
    big = os.urandom(4096)
    m = message("a@mail.bad-invoices.biz", links=("http://cdn.bad-invoices.biz/p", "https://www.google.com/",
                "http://45.9.148.3/x"), files=(big, b"small"))  # fmt: skip
    found = keyer.message_keys(m, tlsh_digest)
    assert found.keys[:2] == ("dom:bad-invoices.biz", "ip:45.9.148.3")
    assert "hash:" + f"{0:064x}" in found.keys and "hash:" + f"{1:064x}" in found.keys
    assert len(found.fuzzy) == 1 and is_tlsh(found.fuzzy[0])  # the 5-byte file has none
    assert found.recipients == ("victim@corp.example",)
    broken = message("microsoft", from_header="Microsoft team ,_<no-reply@access-accsecurity.com>")
    assert keyer.message_keys(broken).keys == ("dom:access-accsecurity.com",)


def mutate(data: bytes, rng: random.Random, n: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def test_tlsh_near_duplicates_join_and_unrelated_files_do_not() -> None:
    rng = random.Random(7)
    base = bytes(rng.randrange(256) for _ in range(8192))
    near = mutate(base, rng, 20)
    other = bytes(rng.randrange(256) for _ in range(8192))
    d_base, d_near, d_other = tlsh_digest(base), tlsh_digest(near), tlsh_digest(other)
    assert tlsh_distance(d_base, d_near) <= 30 < tlsh_distance(d_base, d_other)
    items = [
        CampaignItem("message", "m1", "2026-01-01T00:00:00", ("dom:one.example",), (d_base,)),
        CampaignItem("message", "m2", "2026-01-02T00:00:00", ("dom:two.example",), (d_near,)),
        CampaignItem("message", "m3", "2026-01-03T00:00:00", ("dom:three.example",), (d_other,)),
        CampaignItem("message", "m4", "2026-01-03T00:00:00", (), ("T1garbage", "")),
    ]
    result = run(items)
    assert partition(result) == {frozenset({"m1", "m2"})}
    assert result.fuzzy_pairs == 1
    (c,) = result.campaigns
    assert [k for k, _ in c.shared_keys] == ["tlsh:" + min(d_base, d_near)]
    assert tlsh_digest(b"\x00" * 4096) == ""  # no digest for uniform content


def test_tlsh_candidates_are_banded_not_pairwise() -> None:
    rng = random.Random(11)
    files = [bytes(rng.randrange(256) for _ in range(1024)) for _ in range(200)]
    digests = [(i, tlsh_digest(f)) for i, f in enumerate(files)]
    digests.append((500, tlsh_digest(mutate(files[3], rng, 5))))
    pairs = list(near_duplicate_pairs(digests))
    assert (3, 500) in pairs and len(pairs) == 1
    # a band that too many digests share is skipped rather than compared all-to-all
    assert list(near_duplicate_pairs([(i, digests[3][1]) for i in range(100)], band_cap=64)) == []


def test_connected_components_match_a_plain_union_find() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    a = rng.integers(0, n, 1500)
    b = rng.integers(0, n, 1500)
    label = connected_components(n, a.astype(np.int64), b.astype(np.int64))
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        parent[find(x)] = find(y)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    for members in groups.values():
        assert {int(label[m]) for m in members} == {min(members)}
    # a long chain: the worst case for label propagation
    chain = np.arange(n - 1, dtype=np.int64)
    assert set(connected_components(n, chain, chain + 1).tolist()) == {0}


@pytest.mark.parametrize(
    ("origins", "level"),
    [
        ({"abroad/RU": 5}, "high"),
        ({"abroad/RU": 5, "unknown": 2}, "medium"),
        ({"abroad/RU": 5, "obscured": 1}, "low"),
        ({"abroad/RU": 3, "abroad/CN": 3}, "low"),
        ({"unknown": 4}, "low"),
    ],
)
def test_origin_confidence(origins: dict[str, int], level: str) -> None:
    got, reason = origin_confidence(origins)
    assert got == level and reason


def test_campaign_summary_counts_targets_origins_and_techniques() -> None:
    items = [
        CampaignItem("alert", "a1", "2026-02-01T08:00:00", ("c2:45.9.148.3",), (), "abroad", "RU",
                     ("T1071",), ("host:ws1",)),
        CampaignItem("alert", "a2", "2026-02-03T08:00:00", ("c2:45.9.148.3",), (), "abroad", "RU",
                     ("T1071", "T1105"), ("host:ws2",)),
        CampaignItem("message", "m1", "2026-02-03T09:00:00", ("c2:45.9.148.3",), (), "obscured",
                     "NL", ("T1566.001",), ("rcpt:cfo@corp.example",), 0),
        CampaignItem("message", "m2", "2026-02-04T09:00:00", ("c2:45.9.148.3",), (), "unknown",
                     None, (), (), 3),
    ]  # fmt: skip
    (c,) = run(items).campaigns
    assert c.alert_ids == ("a1", "a2") and c.message_ids == ("m1", "m2")
    assert c.hosts == ("ws1", "ws2") and c.recipients == ("cfo@corp.example",)
    assert c.target_count == 2 + 1 + 3
    assert c.origins == (("abroad/RU", 2), ("obscured", 1), ("unknown", 1))
    assert c.techniques[0] == ("T1071", 2)
    assert c.timeline == (("2026-02-01", 1), ("2026-02-03", 2), ("2026-02-04", 1))
    assert c.origin_confidence == "low" and "anonymizer" in c.confidence_reason


def test_hostile_keys_do_not_crash() -> None:
    weird = ("dom:\udcff\udcfe.example", "ip:" + "9" * 5000, "", ":", "nokind")
    items = [CampaignItem("alert", f"h{i}", "", weird) for i in range(3)]
    result = run(items)
    assert len(result.campaigns) == 1 and result.campaigns[0].first_seen == ""
