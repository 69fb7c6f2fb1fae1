"""Plain lists: LOKI ``value;comment``, IPsum ``ip<TAB>count``, one value per line; the
real samples, and hostile files (garbage, invalid UTF-8, over-long lines, truncated gzip,
a huge list) giving one counted skip per bad line while the rest imports."""

from __future__ import annotations

import gzip
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from floodwall.enrich.intel import lists
from floodwall.enrich.intel.feedio import MAX_LINE
from floodwall.enrich.intel.indicator import FeedItem, Indicator, Skipped
from floodwall.enrich.intel.suffixes import PublicSuffixes


def split(items: list[FeedItem]) -> tuple[list[Indicator], list[Skipped]]:
    good = [i for i in items if isinstance(i, Indicator)]
    return good, [i for i in items if isinstance(i, Skipped)]


def read(path: Path, suffixes: PublicSuffixes | None = None) -> list[FeedItem]:
    known = suffixes.is_known_tld if suffixes is not None else None
    return list(lists.read_file(path, "test", known_tld=known))


def test_loki_value_comment_heading_and_score(tmp_path: Path) -> None:
    path = tmp_path / "c2.txt"
    path.write_text(
        "# LOKI C2 IOCs\n#\n"
        "# APT Example\n"
        "evil.example.org\n"
        "198.51.100.7;Cobalt Strike team server\n"
        "\n"
        "44d88612fea8a8f36de82e1278abb02f;EICAR\n"
        "bad.example.net;80\n",
        "utf-8",
    )
    good, skipped = split(read(path))
    assert skipped == []
    got = {(i.type, i.value): (i.comment, i.confidence) for i in good}
    assert got == {
        ("domain", "evil.example.org"): ("APT Example", 70),  # the heading names it
        ("ip", "198.51.100.7"): ("Cobalt Strike team server", 70),
        ("md5", "44d88612fea8a8f36de82e1278abb02f"): ("EICAR", 70),
        ("domain", "bad.example.net"): ("", 80),  # a bare number is LOKI's score
    }


def test_ipsum_count_becomes_confidence_and_header_last_seen(tmp_path: Path) -> None:
    path = tmp_path / "ipsum.txt"
    path.write_text(
        "# IPsum Threat Intelligence Feed\n"
        "# Last update: Sat, 22 Aug 2026 03:00:29 +0200\n"
        "#\n# IP\tnumber of (black)lists\n#\n"
        "77.90.185.20\t10\n45.154.244.193\t3\n192.0.2.1\t1\n",
        "utf-8",
    )
    good, skipped = split(read(path))
    assert skipped == []
    assert [(i.value, i.confidence, i.tags) for i in good] == [
        ("77.90.185.20", 100, ("blocklists:10",)),
        ("45.154.244.193", 60, ("blocklists:3",)),
        ("192.0.2.1", 20, ("blocklists:1",)),
    ]
    assert {i.last_seen for i in good} == {datetime(2026, 8, 22, 1, 0, 29, tzinfo=UTC)}


def test_plain_one_value_per_line_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text(
        "hxxp://phish[.]example[.]com/a,phishing kit\n2001:DB8::1\n10.0.0.0/8\nuser@Bad.example\n",
        "utf-8",
    )
    good, skipped = split(read(path))
    assert skipped == []
    assert [(i.type, i.value) for i in good] == [
        ("url", "http://phish.example.com/a"),
        ("ip", "2001:db8::1"),
        ("cidr", "10.0.0.0/8"),
        ("email", "user@bad.example"),
    ]
    assert good[0].comment == "phishing kit"


def test_file_names_are_not_domains_with_known_tlds(
    tmp_path: Path, suffixes: PublicSuffixes
) -> None:
    path = tmp_path / "mixed.txt"
    path.write_text("svchost.exe;dropper name\nevil.com;c2\n", "utf-8")
    good, skipped = split(read(path, suffixes))
    assert [i.value for i in good] == ["evil.com"]
    assert len(skipped) == 1 and "top-level" in skipped[0].reason


def test_hostile_lines_are_counted_skips_and_the_rest_imports(tmp_path: Path) -> None:
    path = tmp_path / "hostile.txt"
    path.write_bytes(
        b"203.0.113.1\n"
        b"\xff\xfe\xfa not utf-8\n"
        b"!!!garbage!!!\n" + b"a" * (MAX_LINE + 10) + b"\n"
        b"\x00\x01\x02\n"
        b"203.0.113.2;ok\n"
    )
    good, skipped = split(read(path))
    assert [i.value for i in good] == ["203.0.113.1", "203.0.113.2"]
    reasons = Counter(s.reason.split(":")[0] for s in skipped)
    assert reasons["line is not valid UTF-8"] == 1
    assert any("longer than" in s.reason for s in skipped)
    assert len(skipped) == 4
    assert all(s.where.startswith("hostile.txt:") for s in skipped)


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    body = gzip.compress("".join(f"198.51.100.{i}\n" for i in range(200)).encode())
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(body[: len(body) // 2])
    good, skipped = split(read(path))
    assert 0 < len(good) < 200
    assert [s.reason.split(":")[0] for s in skipped] == ["rest of file unreadable"]


def test_huge_list_streams(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("w") as fh:
        for i in range(300_000):
            fh.write(f"{10 + i % 200}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\t2\n")
            if i % 50_000 == 0:
                fh.write("not-a-value-at-all\n")
    started = time.perf_counter()
    n_good = n_skipped = 0
    for item in lists.read_file(path, "huge"):
        if isinstance(item, Indicator):
            n_good += 1
        else:
            n_skipped += 1
    assert (n_good, n_skipped) == (300_000, 6)
    assert time.perf_counter() - started < 60


def test_real_samples(intel_samples: Path, suffixes: PublicSuffixes) -> None:
    level3, skipped = split(read(intel_samples / "ipsum" / "level3.txt"))
    assert len(level3) > 1000 and not skipped and {i.type for i in level3} == {"ip"}
    ipsum, skipped = split(read(intel_samples / "ipsum" / "ipsum.txt.gz"))
    assert len(ipsum) > 100_000 and not skipped
    assert min(i.confidence for i in ipsum) >= 20
    c2, _ = split(read(intel_samples / "signature_base_iocs" / "c2-iocs.txt", suffixes))
    assert {"domain", "ip"} <= {i.type for i in c2}
    assert any(i.value == "suroot.com" for i in c2)
    hashes, _ = split(read(intel_samples / "signature_base_iocs" / "hash-iocs.txt", suffixes))
    assert {"md5", "sha1", "sha256"} <= {i.type for i in hashes}


@pytest.mark.parametrize("count", [0, 1, 3, 5, 9])
def test_ipsum_confidence_scale(count: int) -> None:
    assert lists.ipsum_confidence(count) == min(100, 20 * count)
