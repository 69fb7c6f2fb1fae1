"""An organisation's name over a free mailbox address."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from floodwall.detect.mail.display_name_impersonation import name_terms, name_words
from floodwall.detect.mail.domains import SuffixList, domain_of, registered_domain
from floodwall.detect.mail.findings import detector_finding
from floodwall.records import Finding, MailMessage, Observable, Severity

#: Words by which a display name speaks for an institution or a company's department,
#: not a person (English, and the languages of the lures seen most: Spanish, Portuguese,
#: French, German, Italian, Dutch); compared after accents are stripped.
ORG_WORDS = frozenset(
    {
        # departments and desks
        "team", "support", "helpdesk", "service", "services", "department", "dept",
        "security", "billing", "administrator", "administration", "notification",
        "notifications", "accounts", "customer", "customercare", "payroll", "compliance",
        # institutions
        "bank", "banking", "commission", "committee", "ministry", "government", "agency",
        "authority", "federal", "treasury", "revenue", "customs", "court", "police",
        "foundation", "embassy", "united", "nations", "compensation", "council",
        # companies
        "inc", "llc", "ltd", "corp", "corporation", "gmbh", "plc",
        # the same in other languages
        "equipe", "equipo", "suporte", "soporte", "servicio", "servico", "servicos",
        "atendimento", "kundenservice", "kundendienst", "sicherheit", "banco", "banque",
        "receita", "ministerio", "ministere", "gobierno", "governo", "finanzamt", "douane",
        "zoll", "assistenza", "klantenservice", "beveiliging",
    }
)  # fmt: skip


class FreemailOrgClaimDetector:
    """The From display name speaks for an organisation ("Customer Support", "ECOWAS
    Compensation Commission", "Banco X Atendimento") while the address is a free mailbox.

    Banks, governments and companies' service desks write from their own domains; a free
    mailbox under an institution's name is how advance-fee fraud, fake support and BEC
    start (ATT&CK T1585.002, T1656). A weak signal on its own (small businesses do use
    free mail): the policy weighs it below the tag threshold.
    """

    id: ClassVar[str] = "mail.freemail_org_claim"
    title: ClassVar[str] = "Organisation's name over a free mailbox"
    severity: ClassVar[Severity] = Severity.LOW
    attack: ClassVar[tuple[str, ...]] = ("T1566", "T1585.002", "T1656")

    def __init__(self, psl: SuffixList, freemail: Iterable[str]) -> None:
        """``freemail``: registered domains of free mailbox providers
        (``reference.load_freemail()``)."""
        self.psl = psl
        self.freemail = frozenset(freemail)

    def detect(self, msg: MailMessage) -> list[Finding]:
        """At most one finding, naming the organisation words of the display name."""
        domain = registered_domain(domain_of(msg.from_addr), self.psl)
        if domain not in self.freemail or not msg.from_name.strip():
            return []
        words = sorted(name_terms(name_words(msg.from_name)) & ORG_WORDS)
        if not words:
            return []
        return [
            detector_finding(
                self,
                {
                    "reason": f"display name {msg.from_name!r} speaks for an organisation "
                    f"({', '.join(words)}) but the address is the free mailbox {msg.from_addr}",
                    "from_name": msg.from_name,
                    "from": msg.from_addr,
                    "words": words,
                },
                (Observable("email", msg.from_addr),),
            )
        ]
