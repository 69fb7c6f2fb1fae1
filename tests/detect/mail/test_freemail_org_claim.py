"""FreemailOrgClaimDetector: an organisation's name over a free mailbox."""

from __future__ import annotations

import mail_util as util
import pytest

from floodwall.detect.mail import reference
from floodwall.detect.mail.freemail_org_claim import FreemailOrgClaimDetector

make_msg, fired = util.make_msg, util.fired

DETECTOR = FreemailOrgClaimDetector(util.psl(), reference.load_freemail())


@pytest.mark.parametrize(
    ("name", "addr", "expected"),
    [
        ("ECOWAS COMPENSATION COMMISSION 2025.", "ecowascompensationc@gmail.com", True),
        ("Customer Support", "help.desk.2291@outlook.com", True),
        ("Banco do Brasil - Atendimento", "bb.atend@hotmail.com", True),
        ("Serviço de Segurança", "seg@yahoo.com.br", True),  # accents stripped
        ("HR_Payroll", "payroll.hr@gmail.com", True),  # underscores split
        ("IT-HelpDesk", "it.helpdesk@mail.ru", True),  # CamelCase split
        # must not fire
        ("Jane Doe", "jane.doe@gmail.com", False),  # a person
        ("Mrs. Elizabeth Edward", "mrselizabeth@gmail.com", False),
        ("Customer Support", "support@acme.com", False),  # the organisation's own domain
        ("Steam Team", "x@teamspeak.example", False),  # not a free mailbox
        ("", "support@gmail.com", False),  # no display name
        ("Teamwork Fan", "fan@gmail.com", False),  # whole words only
    ],
)
def test_freemail_org_claim(name: str, addr: str, expected: bool) -> None:
    assert fired(DETECTOR, make_msg(from_name=name, from_addr=addr)) is expected


def test_hostile_names_are_safe() -> None:
    name = "\udcff\x00" + "Support " * 100_000 + "\u0301" * 10_000
    assert fired(DETECTOR, make_msg(from_name=name, from_addr="x@gmail.com"))
    assert not fired(DETECTOR, make_msg(from_name="é" * 1_000_000, from_addr="x@gmail.com"))
