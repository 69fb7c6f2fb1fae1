"""OpenRedirectDetector: links through Google, Bing, Translate, DuckDuckGo, DoubleClick ...
redirectors to a site that is neither the redirector's nor the sender's."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import quote

import mail_util as util
import pytest

from floodwall.detect.mail.open_redirect import (
    MAX_HOPS,
    MAX_LINKS,
    MAX_URL,
    TOO_DEEP,
    OpenRedirectDetector,
)
from floodwall.detect.mail.reference import Redirector, load_redirectors
from floodwall.ingest.mail_source import RawMail
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin

make_msg, fired = util.make_msg, util.fired
DETECTOR = OpenRedirectDetector(util.psl(), load_redirectors())
SAMPLE = Path(__file__).parents[2] / "samples" / "detect" / "mail" / "open_redirect" / "sample.eml"
EVIL = "https://login.evil.example/verify"
CLICK = "https://adclick.g.doubleclick.net/pcs/click"
SAFE = "https://eur01.safelinks.protection.outlook.com/?url="
PROOFPOINT = "https://urldefense.proofpoint.com/v2/url?u="


def b64(url: str) -> str:
    """Bing's encoding: ``a1`` then unpadded base64url (RFC 4648 §5)."""
    return "a1" + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def google(target: str) -> str:
    return "https://www.google.com/url?q=" + quote(target, safe="") + "&sa=D&usg=AOvVaw"


@pytest.mark.parametrize(
    ("sender", "url", "expected"),
    [
        ("a@b.example", google(EVIL), True),
        ("a@b.example", "https://www.google.com/url?sa=t&url=" + EVIL, True),
        ("a@b.example", "HTTPS://WWW.GOOGLE.COM/url?q=" + EVIL, True),
        ("a@b.example", "https://maps.google.co.uk/url?q=" + EVIL, True),
        ("a@b.example", "https://google.co.jp/amp/s/evil.example", True),
        ("a@b.example", "https://www.google.com.br/amp/evil.example/a/b?x=1", True),
        ("a@b.example", "https://translate.google.com/translate?sl=auto&u=evil.example/x", True),
        ("a@b.example", "https://www.google.com/travel/clk?pc=1&pcurl=" + quote(EVIL), True),
        ("a@b.example", f"https://www.bing.com/ck/a?!&&p=9f&ptn=3&u={b64(EVIL)}&ntb=1", True),
        # entities left in a link by its HTML (&amp;) do not hide the parameter
        ("a@b.example", f"https://www.bing.com/ck/a?!&amp;&amp;p=9f&amp;u={b64(EVIL)}", True),
        ("a@b.example", "https://login-evil-example.translate.goog/verify?_x_tr_sl=auto", True),
        ("a@b.example", "https://my--shop-evil-example.translate.goog/", True),
        ("a@b.example", "https://duckduckgo.com/l/?uddg=" + quote(EVIL, safe="") + "&rut=1", True),
        ("a@b.example", f"https://ad.doubleclick.net/ddm/trackclk/N1/B3;dc=4;adurl={EVIL}", True),
        ("a@b.example", f"{CLICK}?xai=AKA&&adurl=//evil.example", True),
        ("a@b.example", f"{CLICK}%3Fxai%3DA%26adurl%3Dhttps%3A%2F%2Fevil.example", True),
        ("a@b.example", "https://www.googleadservices.com/pagead/aclk?sa=L&adurl=" + EVIL, True),
        ("a@b.example", "https://www.youtube.com/redirect?event=x&q=" + quote(EVIL), True),
        ("a@b.example", "https://l.facebook.com/l.php?u=" + quote(EVIL) + "&h=AT0", True),
        ("a@b.example", "https://vk.com/away.php?to=" + quote(EVIL, safe="") + "&utf=1", True),
        ("a@b.example", "https://www.linkedin.com/redir/redirect?url=" + quote(EVIL), True),
        # obfuscation: every character escaped, escaped twice, browser-lenient schemes,
        # user info that looks like the trusted host (RFC 3986 §3.2.1)
        ("a@b.example", google("").replace("q=", "q=%68%74%74%70%73%3A%2F%2F%65vil.example"), True),
        ("a@b.example", "https://www.google.com/url?q=https%253A%252F%252Fevil.example", True),
        ("a@b.example", "https://www.google.com/url?q=https:\\\\evil.example/", True),
        ("a@b.example", "https://www.google.com/url?q=https:/evil.example/", True),
        ("a@b.example", "https://www.google.com/url?q=https://www.google.com@evil.example/", True),
        ("a@b.example", "https://www.google.com/url?q=https://192.0.2.7/login", True),
        # a host escaped once more than the rest: browsers decode a host (WHATWG URL)
        ("a@b.example", "https://www.google.com/url?q=https%3A%2F%2F%2565vil.example%2Fx", True),
        # nested: a redirector inside a redirector, and a gateway's rewriter around one
        ("a@b.example", google(f"https://www.bing.com/ck/a?u={b64(EVIL)}"), True),
        ("a@b.example", google("https://www.google.de/amp/s/evil.example"), True),
        ("a@b.example", SAFE + quote(google(EVIL), safe="") + "&data=x", True),
        ("a@b.example", f"{PROOFPOINT}https-3A__www.google.com_url-3Fq-3D{quote(EVIL)}&d=x", True),
        ("a@b.example", f"https://urldefense.com/v3/__{google(EVIL)}__;!!x", True),
        # the sender's own site, the operator's own sites, the operator's own mail
        ("news@shop.example", google("https://www.shop.example/sale"), False),
        ("a@b.example", google("https://maps.google.de/place"), False),
        ("a@b.example", "https://www.google.com/url?q=https://support.google.com/mail", False),
        ("a@b.example", "https://l.facebook.com/l.php?u=https://www.facebook.com/groups/1", False),
        ("googlealerts-noreply@google.com", google("https://news.example/story"), False),
        ("drive-shares-noreply@google.co.uk", google(EVIL), False),
        # a rewriter alone is the recipient's gateway, not a redirector
        ("a@b.example", SAFE + quote(EVIL), False),
        ("a@b.example", "https://clicktime.symantec.com/3BCC?u=" + quote(EVIL), False),
        # no readable destination
        ("a@b.example", "https://www.google.com/url?q=/search%3Fq%3Devil.example", False),
        ("a@b.example", "https://www.google.com/url?q=javascript:alert(1)", False),
        ("a@b.example", "https://www.google.com/url?sa=D&usg=AOvVaw", False),
        ("a@b.example", "https://www.bing.com/ck/a?!&&p=9f&ptn=3&ntb=1", False),
        ("a@b.example", "https://www.bing.com/ck/a?u=" + b64("not a link at all"), False),
        ("a@b.example", "https://ad.doubleclick.net/ddm/trackclk/N1/B3;dc=4;adurl=", False),
        ("a@b.example", "https://translate.goog/", False),
        # not a redirector: search results, other paths, look-alike hosts, other schemes
        ("a@b.example", "https://www.google.com/search?q=" + EVIL, False),
        ("a@b.example", "https://www.google.com/maps/place/evil.example", False),
        ("a@b.example", "https://www.bing.com/search?u=" + b64(EVIL), False),
        ("a@b.example", "https://google.evil.example/url?q=" + EVIL, False),
        ("a@b.example", "https://www.google.com.evil.example/url?q=" + EVIL, False),
        ("a@b.example", "https://googlex.com/url?q=" + EVIL, False),
        ("a@b.example", "https://google.xyz/url?q=" + EVIL, False),
        ("a@b.example", "https://www.youtube.com/watch?v=x&q=" + EVIL, False),
        ("a@b.example", "mailto:a@www.google.com?body=https://www.google.com/url?q=" + EVIL, False),
        ("", "", False),
    ],
)
def test_open_redirect(sender: str, url: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(from_addr=sender, links=[url])) is expected


def test_evidence_names_redirector_and_destination() -> None:
    links = [google(EVIL), f"https://www.bing.com/ck/a?u={b64(EVIL)}", google(EVIL)]
    (finding,) = DETECTOR.detect(make_msg(from_addr="a@b.example", links=links))
    assert finding.evidence["reason"].startswith("2 link(s)")
    assert "www.google.com -> login.evil.example" in finding.evidence["reason"]
    assert finding.evidence["redirectors"] == ["www.bing.com", "www.google.com"]
    assert [(o.kind, o.value) for o in finding.observables] == [("url", EVIL)]


def test_resolve_follows_the_chain() -> None:
    url = "https://eur01.safelinks.protection.outlook.com/?url=" + quote(google(EVIL), safe="")
    hops, target = DETECTOR.resolve(url)
    assert [h for _, h in hops] == ["eur01.safelinks.protection.outlook.com", "www.google.com"]
    assert [r.wrapper for r, _ in hops] == [True, False] and target == EVIL


def test_nesting_past_the_limit_is_reported() -> None:
    """Redirectors nested past ``MAX_HOPS`` are not followed to the end (each level costs
    a parse); no honest link nests that deep, so the link is reported as such."""
    url = "https://www.google.com/url?q=" * (MAX_HOPS + 1) + EVIL
    assert DETECTOR.resolve(url)[1] == TOO_DEEP
    (finding,) = DETECTOR.detect(make_msg(from_addr="a@b.example", links=[url]))
    assert TOO_DEEP in finding.evidence["reason"] and finding.evidence["targets"] == []
    within = "https://www.google.com/url?q=" * MAX_HOPS + EVIL
    assert DETECTOR.resolve(within)[1] == EVIL


@pytest.mark.parametrize(
    "url",
    [
        # invalid percent-escapes and truncated UTF-8 stay as they are (RFC 3986 §2.1)
        "https://www.google.com/url?q=%zz%4%",
        "https://www.google.com/url?q=https%3A%2F%2F%E0%A4%A",
        "https://www.google.com/url?q=https%3A%2F%2Fevil.example%2F%zz%ff%",
        # invalid base64: bad characters, a length no encoding has, non-ASCII
        "https://www.bing.com/ck/a?u=a1!!!!",
        "https://www.bing.com/ck/a?u=a1A",
        "https://www.bing.com/ck/a?u=a1aHR0cHM6Ly9é",
        "https://www.bing.com/ck/a?u=a1\udcff",
        "https://www.bing.com/ck/a?u=a1" + base64.urlsafe_b64encode(b"\xff\xfe://").decode(),
        # non-ASCII and unencodable hosts, in the redirector and in the destination
        "https://www.gооgle.com/url?q=https://evil.example",  # Cyrillic o
        "https://www.google.com/url?q=https://bücher.example/",
        "https://www.google.com/url?q=https://\udcff.example/",
        "https://\udcff-x.translate.goog/",
        "https://www.google.com/url?q=https://[::1/",
        "https://[::1/url?q=" + EVIL,
        "https://www.google.com/amp/s/" + "%" * 5000,
        "https://" + "a." * 50_000 + "google.com/url?q=" + EVIL,
    ],
)
def test_hostile_input_does_not_crash(url: str) -> None:
    fired(DETECTOR, make_msg(from_addr="a@b.example", links=[url]))


def test_non_ascii_destination_is_compared_in_idna_form() -> None:
    found = DETECTOR.detect(make_msg(links=[google("https://bücher.example/")]))
    assert found and found[0].evidence["targets"] == ["https://bücher.example/"]
    assert "xn--bcher-kva.example" in found[0].evidence["reason"]


@pytest.mark.timeout(10)
def test_huge_and_many_links_stay_fast() -> None:
    """A megabyte-long link is read to ``MAX_URL`` only (a target written past it is not
    seen); of 10,000 distinct escape-laden nested links only ``MAX_LINKS`` are resolved."""
    padded = "https://www.google.com/url?q=" + EVIL + "&x=" + "%25" * 1_000_000
    hidden = "https://www.google.com/url?x=" + "a" * MAX_URL + "&q=" + EVIL
    assert fired(DETECTOR, make_msg(from_addr="a@b.example", links=[padded]))
    assert not fired(DETECTOR, make_msg(from_addr="a@b.example", links=[hidden]))
    nested = quote(quote("https://www.google.com/url?q=", safe=""), safe="")
    links = [f"https://www.google.com/url?q={i}{nested}" + "%2525" * 2000 for i in range(10_000)]
    start = time.process_time()
    assert not DETECTOR.detect(make_msg(from_addr="a@b.example", links=links))
    deep = "https://www.google.com/url?q=" * (MAX_HOPS + 1)
    links = [f"{deep}https://evil{i}.example/" + "%2525" * 300 for i in range(10_000)]
    (finding,) = DETECTOR.detect(make_msg(from_addr="a@b.example", links=links))
    assert time.process_time() - start < 2.0
    assert finding.evidence["reason"].startswith(f"{MAX_LINKS} link(s)")
    assert len(finding.evidence["urls"]) == 20


def test_links_past_the_budget_are_not_read() -> None:
    """The price of the bound: a lure after ``MAX_LINKS`` redirected links to the
    sender's own site is not seen (no honest message carries that many)."""
    own = [google(f"https://shop.example/{i}") for i in range(MAX_LINKS)]
    assert not fired(DETECTOR, make_msg(from_addr="a@shop.example", links=[*own, google(EVIL)]))
    assert fired(DETECTOR, make_msg(from_addr="a@shop.example", links=[*own[1:], google(EVIL)]))


def test_bundled_list_loads(tmp_path: Path) -> None:
    bundled = load_redirectors()
    assert {r.decoder for r in bundled} == {"param", "path", "bing", "goog", "proofpoint"}
    assert all(r.names for r in bundled if r.decoder in ("param", "bing", "proofpoint"))
    assert any(r.wrapper for r in bundled) and not all(r.wrapper for r in bundled)
    own = tmp_path / "redirectors.txt"
    own.write_text("# mine\n[open]\nGo.Example  /Out  param=to,u  # note\n[wrapper]\nw.x / param=u")
    assert load_redirectors(own) == (
        Redirector("go.example", "/out", "param", ("to", "u"), False),
        Redirector("w.x", "/", "param", ("u",), True),
    )
    mine = OpenRedirectDetector(util.psl(), load_redirectors(own))
    assert fired(mine, make_msg(links=["https://go.example/out?to=" + EVIL]))
    assert not fired(mine, make_msg(links=["https://www.google.com/url?q=" + EVIL]))


def test_sample_fires() -> None:
    msg = parse_message(RawMail(Origin(str(SAMPLE), 1), SAMPLE.read_bytes()))
    (finding,) = DETECTOR.detect(msg)
    assert finding.id == "mail.open_redirect"
    assert "www.google.com -> login.example.net" in finding.evidence["reason"]
    assert finding.evidence["redirectors"] == ["www.bing.com", "www.google.com"]
    assert finding.evidence["targets"] == ["https://login.example.net/mailbox"]
