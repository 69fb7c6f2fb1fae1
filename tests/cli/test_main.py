"""The command table: every command registers under its name, and running one command
loads only that command's module, so a hunt never pays for the web stack or intel."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from floodwall.cli.main import COMMANDS, build_parser

# Heavy imports that a hunt does not need (each costs 0.1-0.3 s of start-up).
HEAVY = ("stix2", "numpy", "fastapi", "aiosmtpd", "uvicorn", "sigma", "oletools", "yara_x")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_registers_under_its_name(name: str) -> None:
    parser = build_parser([name, "--help"])
    (action,) = [a for a in parser._subparsers._group_actions]  # type: ignore[union-attr]
    assert list(action.choices) == [name]  # type: ignore[attr-defined]
    module = importlib.import_module(COMMANDS[name][0])
    assert module.__doc__, f"{COMMANDS[name][0]} has no docstring"


def test_help_lists_every_command_without_loading_them() -> None:
    code = (
        "import sys\n"
        "from floodwall.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('floodwall.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert f"    {name}" in out.stdout
    assert "LOADED ['floodwall.cli.main']" in out.stdout


@pytest.mark.parametrize("argv", [["hunt", "--help"], ["rules", "--help"]])
def test_a_command_loads_no_heavy_module_it_does_not_need(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from floodwall.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout[-400:]
