"""``floodwall gateway`` from the command line: bad arguments and a taken spool exit 2
with a clear message; SIGTERM stops it cleanly (exit 0, see test_gateway_crash.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gw_util import GatewayProcess, Sink

from floodwall.cli.main import main

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nonsense", "--relay", "127.0.0.1:25"], "expected HOST:PORT"),
        (["--listen", "127.0.0.1:0", "--relay", "127.0.0.1:99999"], "expected HOST:PORT"),
    ],
)
def test_bad_addresses(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["gateway", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tls-cert", "/nonexistent.pem"], "go together"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"], "No such file"),
        (["--require-tls"], "needs --tls-cert"),
        (["--policy", "/nonexistent.toml"], "No such file"),
    ],
)
def test_bad_files(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["gateway", "--listen", "127.0.0.1:0", "--relay", "127.0.0.1:25"]
    assert main([*args, "--data", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


def test_a_second_gateway_on_one_data_dir_exits_2(tmp_path: Path) -> None:
    sink = Sink().start()
    first = GatewayProcess(tmp_path / "data", sink.port, tmp_path / "first.log", "--workers", "0")
    second = GatewayProcess(tmp_path / "data", sink.port, tmp_path / "second.log", "--workers", "0")
    try:
        first.start()
        with pytest.raises(AssertionError, match="in use by another gateway"):
            second.start()
        assert second.proc is not None and second.proc.wait(30) == 2
        second._close()
        assert first.terminate() == 0
    finally:
        sink.close()
