"""DMARC (RFC 7489): policy discovery and identifier alignment, on SPF and DKIM results.

Written here rather than taken from a library: ``authheaders`` (the one maintained DMARC
evaluator for Python) makes its SPF lookups through the system resolver, bundles a
second Public Suffix List, and evaluates only the first DKIM signature. This is the
small part of RFC 7489 §6.6 a receiver needs, with the project's own suffix list for
the Organizational Domain (§3.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from floodwall.detect.mail.domains import SuffixList, registered_domain
from floodwall.enrich.mail_auth.resolver import DnsPermanent, DnsTemporary, Lookups
from floodwall.records import AuthCheck

__all__ = ["aligned", "check_dmarc"]

_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.IGNORECASE)  # RFC 7489 §6.6.3 step 3
_POLICIES = ("none", "quarantine", "reject")


def aligned(domain: str, from_domain: str, psl: SuffixList, strict: bool = False) -> bool:
    """Identifier alignment (RFC 7489 §3.1): the same domain (strict), or the same
    Organizational Domain (relaxed, the default)."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or not from_domain:
        return False
    if strict or domain == from_domain:
        return domain == from_domain
    return registered_domain(domain, psl) == registered_domain(from_domain, psl)


def _tags(record: str) -> dict[str, str]:
    """A DMARC record's tag=value pairs (RFC 7489 §6.4), names lowered."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _discover(lookups: Lookups, from_domain: str, org: str) -> tuple[dict[str, str], bool] | None:
    """The policy record of ``from_domain``, else of its Organizational Domain (RFC 7489
    §6.6.3), and whether it came from the latter; ``None`` when there is none, or more
    than one (step 5: then DMARC is not applied)."""
    for domain in dict.fromkeys((from_domain, org)):
        found = []
        for txt in lookups.txt(f"_dmarc.{domain}"):
            text = txt.decode("utf-8", "replace").strip()
            if _VERSION.match(text):
                found.append(text)
        if len(found) > 1:
            return None
        if found:
            return _tags(found[0]), domain != from_domain
    return None


def check_dmarc(
    lookups: Lookups,
    psl: SuffixList,
    from_domain: str,
    from_problem: str,
    spf: tuple[AuthCheck, str],
    dkim: Sequence[tuple[AuthCheck, str]],
) -> AuthCheck:
    """The DMARC result for the From domain, given the SPF result with the domain it
    speaks for and each DKIM result with its ``d=``."""
    if from_problem:
        return AuthCheck("dmarc", "permerror", from_problem)  # RFC 7489 §6.6.1
    props = (("header.from", from_domain),)
    org = registered_domain(from_domain, psl)
    try:
        found = _discover(lookups, from_domain, org)
    except DnsTemporary as exc:
        return AuthCheck("dmarc", "temperror", f"policy lookup: {exc}", props)
    except DnsPermanent as exc:
        return AuthCheck("dmarc", "permerror", f"policy lookup: {exc}", props)
    if found is None:
        return AuthCheck("dmarc", "none", "no single DMARC policy published", props)
    tags, inherited = found
    policy = tags.get("p", "").lower()
    if policy not in _POLICIES:
        # §6.6.3 step 6: without a valid p=, a record naming reports acts as p=none.
        if not tags.get("rua"):
            return AuthCheck("dmarc", "none", "policy record without a valid p= tag", props)
        policy = "none"
    sub = tags.get("sp", "").lower()
    if inherited and sub in _POLICIES:
        policy = sub  # §6.3 sp=: the policy for subdomains of the Organizational Domain
    strict_dkim = tags.get("adkim", "r").lower() == "s"
    strict_spf = tags.get("aspf", "r").lower() == "s"
    pct = tags.get("pct", "100")
    said = f"p={policy}" + (f" pct={pct}" if pct.isdigit() and int(pct) < 100 else "")
    spf_check, spf_domain = spf
    spf_aligned = aligned(spf_domain, from_domain, psl, strict_spf)
    dkim_aligned = [c for c, d in dkim if aligned(d, from_domain, psl, strict_dkim)]
    if spf_aligned and spf_check.result == "pass":
        return AuthCheck("dmarc", "pass", f"{said}; aligned SPF pass", props)
    if any(c.result == "pass" for c in dkim_aligned):
        return AuthCheck("dmarc", "pass", f"{said}; aligned DKIM pass", props)
    # No aligned pass. When a result that could have been one is unknown, DMARC is too:
    # an SPF or aligned DKIM check that hit a temporary error, or SPF never evaluated.
    if any(c.result == "temperror" for c in dkim_aligned) or spf_check.result == "temperror":
        return AuthCheck("dmarc", "temperror", f"{said}; SPF or DKIM not decided", props)
    if not spf_domain:
        why = f"{said}; no aligned DKIM pass, and SPF not evaluated ({spf_check.reason})"
        return AuthCheck("dmarc", "permerror", why, props)
    return AuthCheck("dmarc", "fail", f"{said}; no aligned SPF or DKIM pass", props)
