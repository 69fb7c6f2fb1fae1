"""``floodwall quarantine`` end to end: a harmless attack sample is scanned with the real
detectors and policy, held, listed, shown, released to a real SMTP server on loopback
(which must get the exact bytes), deleted, and the audit says who, when and why."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floodwall.cli.main import main
from floodwall.ingest.mail_source import RawMail
from floodwall.mail.detectors import build_detectors
from floodwall.mail.scan import ScanResult, scan_message
from floodwall.normalize.mime import parse_message
from floodwall.records import Origin
from floodwall.respond.policy import Policy
from floodwall.settings import Settings
from floodwall.store.db import open_store
from floodwall.store.quarantine import QuarantineStore

# The loopback SMTP sink lives with the relay tests; tests/ is not a package.
if "smtp_sink" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "smtp_sink", Path(__file__).resolve().parents[1] / "respond" / "smtp_sink.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["smtp_sink"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["smtp_sink"])
from smtp_sink import SinkHandler, smtp_sink

pytestmark = pytest.mark.timeout(120)

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "detect" / "mail"


def crlf(data: bytes) -> bytes:
    """As the gateway receives a message over SMTP (RFC 5321 §2.3.8)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(data_dir=tmp_path_factory.mktemp("scan-settings"))
    detectors = build_detectors(settings, None)
    policy = Policy.load(None)

    def scan(raw: bytes) -> ScanResult:
        return scan_message(parse_message(RawMail(Origin("sample.eml", 1), raw)), detectors, policy)

    return scan


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "tester")
    return tmp_path / "data"


def hold_sample(data: Path, scanner: Any, raw: bytes, key: str = "spool-1") -> str:
    result = scanner(raw)
    assert result.verdict.action in ("quarantine", "reject"), result.verdict
    with open_store(data) as store:
        return QuarantineStore(store, data / "quarantine").hold(
            raw, result, mail_from="billing@example.com",
            rcpt_to=["victim@example.org", "cfo@example.org"], key=key,
        )  # fmt: skip


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["quarantine", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, str]]:
    with smtp_sink() as (handler, host, port):
        yield handler, f"{host}:{port}"


def test_hold_list_show_release_delete_audit(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str], sink: tuple[SinkHandler, str]
) -> None:
    raw = crlf((SAMPLES / "double_extension" / "sample.eml").read_bytes())
    qid = hold_sample(data, scanner, raw)
    d = ["--data", str(data)]

    code, out, _ = cli(capsys, "list", "--format", "jsonl", *d)
    assert code == 0
    (row,) = jsonl(out)
    assert (row["id"], row["status"], row["subject"]) == (qid, "held", "Invoice")

    code, out, _ = cli(capsys, "show", qid[:12], *d)
    assert code == 0
    assert "invoice.pdf.exe" in out and "pe" in out and "mail.double_extension" in out
    exe = next(a for a in row["attachments"] if a["name"] == "invoice.pdf.exe")
    assert exe["sha256"] in out
    assert "TVqQ" not in out and "TVoA" not in out  # the executable's body is never shown

    handler, relay = sink
    code, _, err = cli(
        capsys, "release", qid, "--reason", "vendor confirmed by phone", "--relay", relay,
        "--actor", "alice", *d,
    )  # fmt: skip
    assert code == 0, err
    assert "released" in err and "queued as SINK1" in err
    (got,) = handler.received
    assert got.data == raw  # the exact bytes that were held
    assert (got.mail_from, got.rcpt_tos) == (
        "billing@example.com",
        ("victim@example.org", "cfo@example.org"),
    )

    code, _, err = cli(capsys, "release", qid, "--reason", "again", "--relay", relay, *d)
    assert code == 1 and "released" in err
    assert len(handler.received) == 1  # never delivered twice

    code, _, err = cli(capsys, "delete", qid, "--reason", "done with it", *d)
    assert code == 0, err

    code, out, _ = cli(capsys, "audit", qid, "--format", "jsonl", *d)
    assert code == 0
    trail = [(e["actor"], e["action"], e["reason"]) for e in jsonl(out)]
    assert trail == [
        ("floodwall", "hold", ""),
        ("tester", "show", ""),
        ("alice", "release", "vendor confirmed by phone"),
        ("tester", "delete", "done with it"),
    ]
    assert all(e["at"].endswith("Z") for e in jsonl(out))
    code, out, _ = cli(capsys, "audit", *d)
    assert code == 0 and "vendor confirmed by phone" in out and "alice" in out


def test_failed_release_keeps_the_message_held(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = crlf((SAMPLES / "html_smuggling" / "sample.eml").read_bytes())
    qid = hold_sample(data, scanner, raw)
    d = ["--data", str(data)]
    with smtp_sink(SinkHandler(data_reply="451 4.3.0 busy")) as (handler, host, port):
        code, _, err = cli(capsys, "release", qid, "--reason", "r", "--relay", f"{host}:{port}", *d)
    assert code == 1 and "451" in err and "stays held" in err
    assert handler.received == []
    code, out, _ = cli(capsys, "list", "--format", "jsonl", *d)
    assert [r["status"] for r in jsonl(out)] == ["held"]
    code, out, _ = cli(capsys, "audit", qid, "--format", "jsonl", *d)
    last = jsonl(out)[-1]
    assert (last["action"], last["actor"]) == ("release_failed", "tester")
    assert "451" in last["detail"]


def test_release_uses_the_configured_next_hop(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str], sink: tuple[SinkHandler, str]
) -> None:
    raw = crlf((SAMPLES / "macro_autoexec" / "sample.eml").read_bytes())
    qid = hold_sample(data, scanner, raw)
    d = ["--data", str(data)]
    code, _, err = cli(capsys, "release", qid, "--reason", "r", *d)
    assert code == 2 and "no next hop" in err
    handler, relay = sink
    (data / "floodwall.toml").write_text(f'[gateway]\nrelay = "{relay}"\n')
    code, _, err = cli(capsys, "release", qid, "--reason", "r", *d)
    assert code == 0, err
    assert handler.received[0].data == raw


def test_raw_extraction_is_audited_and_never_overwrites(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    raw = crlf((SAMPLES / "double_extension" / "sample.eml").read_bytes())
    qid = hold_sample(data, scanner, raw)
    d = ["--data", str(data)]
    out_file = tmp_path / "extracted.eml"
    code, _, err = cli(capsys, "show", qid, "--raw", str(out_file), *d)
    assert code == 2 and "go together" in err and not out_file.exists()
    code, _, err = cli(capsys, "show", qid, "--raw", str(out_file), "--reason", "sandbox", *d)
    assert code == 0, err
    assert out_file.read_bytes() == raw
    assert oct(out_file.stat().st_mode & 0o777) == oct(0o600)
    out_file.write_bytes(b"keep me")
    code, _, err = cli(capsys, "show", qid, "--raw", str(out_file), "--reason", "again", *d)
    assert code == 2 and "exists" in err
    assert out_file.read_bytes() == b"keep me"
    code, out, _ = cli(capsys, "audit", qid, "--format", "jsonl", *d)
    downloads = [e for e in jsonl(out) if e["action"] == "download"]
    assert [(e["actor"], e["reason"]) for e in downloads] == [("tester", "sandbox")]


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "../../etc/passwd"],
        ["show", "18eafc"],  # well-formed prefix, no such message
        ["release", "../x", "--reason", "r", "--relay", "127.0.0.1:25"],
        ["delete", "%2e%2e", "--reason", "r"],
        ["audit", "not-an-id"],
        ["release", "0" * 32, "--reason", "r", "--relay", "nonsense"],
        ["delete", "0" * 32, "--reason", "   "],
        ["delete", "0" * 32],  # argparse: --reason is required
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(
    data: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    try:
        code = main(["quarantine", *argv, "--data", str(data)])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    _, err = capsys.readouterr()
    assert code in (1, 2), err
    assert "Traceback" not in err and err.strip()


def test_purge_follows_the_retention_setting(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = crlf((SAMPLES / "double_extension" / "sample.eml").read_bytes())
    qid = hold_sample(data, scanner, raw)
    d = ["--data", str(data)]
    db = sqlite3.connect(data / "floodwall.db")
    with db:
        db.execute("UPDATE quarantine SET held = '2000-01-01T00:00:00Z'")
    db.close()
    (data / "floodwall.toml").write_text("[quarantine]\nretention_days = 20000\n")
    code, _, err = cli(capsys, "purge", *d)
    assert code == 0 and err.startswith("0 message(s)")
    (data / "floodwall.toml").write_text("")  # back to the default, 30 days
    code, _, err = cli(capsys, "purge", *d)
    assert code == 0 and err.startswith("1 message(s)")
    code, out, _ = cli(capsys, "audit", qid, "--format", "jsonl", *d)
    assert jsonl(out)[-1]["actor"] == "retention"
    code, out, _ = cli(capsys, "list", "--status", "expired", "--format", "jsonl", *d)
    assert [r["id"] for r in jsonl(out)] == [qid]


def test_show_neutralises_terminal_tricks(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = crlf((SAMPLES / "rtlo_filename" / "sample.eml").read_bytes())
    raw = raw.replace(b"Subject: ", b"Subject: \x1b[2J\x1b]0;owned\x07 ", 1)
    qid = hold_sample(data, scanner, raw)
    code, out, _ = cli(capsys, "show", qid, "--data", str(data))
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\u202e" in out and "\\x1b" in out  # shown, as escapes
    code, out, _ = cli(capsys, "list", "--data", str(data))
    assert "\x1b" not in out and "\u202e" not in out


def test_actor_defaults_to_the_user_behind_sudo(
    data: Path, scanner: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = crlf((SAMPLES / "double_extension" / "sample.eml").read_bytes())
    qid = hold_sample(data, scanner, raw)
    monkeypatch.setenv("SUDO_USER", "erin")
    code, _, _ = cli(capsys, "delete", qid, "--reason", "phish", "--data", str(data))
    assert code == 0
    code, out, _ = cli(capsys, "audit", qid, "--format", "jsonl", "--data", str(data))
    assert jsonl(out)[-1]["actor"] == "erin"
