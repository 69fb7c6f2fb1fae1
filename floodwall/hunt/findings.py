"""Turn a Sigma match into a ``Finding`` (the record every later stage reads)."""

from __future__ import annotations

import re

from floodwall.detect.sigma.ir import CompiledRule
from floodwall.records import Event, Finding, Observable, RuleRef, Severity

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
_HASH = re.compile(r"(SHA256|SHA1|MD5)=([0-9A-Fa-f]+)")
DRL = "Detection Rule License 1.1 (https://github.com/SigmaHQ/Detection-Rule-License)"


def attack_techniques(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK technique ids from Sigma tags: ``attack.t1059.001`` -> ``T1059.001``."""
    return tuple(m.group(1).upper() for t in tags if (m := _TECHNIQUE.match(t)))


def rule_ref(rule: CompiledRule) -> RuleRef:
    """The attribution shown with every match (DRL 1.1: author and a link to the rule)."""
    bundled = rule.link.startswith("https://github.com/SigmaHQ/")
    return RuleRef(
        id=rule.id,
        title=rule.title,
        author=rule.author,
        link=rule.link,
        license=DRL if bundled else "",
        tags=rule.tags,
        references=rule.references,
    )


def observables(event: Event) -> tuple[Observable, ...]:
    """IPs and file hashes named by the event, for intel look-ups later."""
    out: list[Observable] = []
    for ip in (event.source_ip, event.destination_ip):
        if ip:
            out.append(Observable("ip", ip))
    hashes = event.fields.get("Hashes")
    if isinstance(hashes, str):
        out.extend(Observable(k.lower(), v.lower()) for k, v in _HASH.findall(hashes))
    return tuple(dict.fromkeys(out))


def sigma_finding(rule: CompiledRule, ref: RuleRef, event: Event) -> Finding:
    """A Sigma rule matched ``event``: evidence is the fields the rule reads."""
    fields = event.fields
    return Finding(
        id=f"sigma.{rule.id}",
        title=rule.title,
        severity=Severity.parse(rule.level),
        attack=attack_techniques(rule.tags),
        evidence={f: fields[f] for f in rule.fields if f in fields},
        observables=observables(event),
        rule=ref,
        event=event,
        detector="sigma",
    )
