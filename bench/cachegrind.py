"""Load-independent cost of a command: valgrind's cachegrind counts the instructions and
the simulated cache misses of a run, so two variants can be compared on a shared, noisy
machine where CPU times scatter by more than the difference being measured.

``per_event`` runs a command on a small and a large input and returns the difference per
event, so that start-up and one-off loads cancel out. The counts come from cachegrind's
cache model, not from this CPU: its last-level cache is set to 8 MiB (the VM shares a
32 MiB L3 with other machines). Valgrind is Debian's ``valgrind`` package; without it the
caller skips this figure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path

LL_CACHE = "--LL=8388608,16,64"
_LABELS = {
    "instructions": r"I\s+refs",
    "l1i_misses": r"I1\s+misses",
    "l1d_misses": r"D1\s+misses",
    "lli_misses": r"LLi\s+misses",
    "lld_misses": r"LLd\s+misses",
}


@dataclass(frozen=True)
class Counts:
    """Instructions and simulated misses of a run (or per event, as ``per_event`` gives)."""

    instructions: float
    l1i_misses: float
    l1d_misses: float
    lli_misses: float
    lld_misses: float

    @property
    def cycles(self) -> float:
        """Cachegrind's usual estimate: an L1 miss costs ~10 cycles, an LL miss ~100."""
        l1 = self.l1i_misses + self.l1d_misses
        return self.instructions + 10 * l1 + 100 * (self.lli_misses + self.lld_misses)


def is_available() -> bool:
    """True when valgrind is installed."""
    return shutil.which("valgrind") is not None


def counts(command: list[str], cwd: Path) -> Counts:
    """The counts of one run of ``command``."""
    run = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=yes", LL_CACHE,
         "--cachegrind-out-file=/dev/null", *command],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    values: dict[str, float] = {}
    for name, label in _LABELS.items():
        found = re.search(label + r":\s+([\d,]+)", run.stderr)
        if found is None:
            raise RuntimeError(f"cachegrind printed no {name}: {run.stderr[-400:]}")
        values[name] = float(found.group(1).replace(",", ""))
    return Counts(**values)


def per_event(
    command_for: Callable[[Path], list[str]], small: Path, large: Path, events: int, cwd: Path
) -> Counts:
    """``(counts(large) - counts(small)) / events``; the two runs go side by side."""
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda path: counts(command_for(path), cwd), (small, large))
    return Counts(*((y - x) / events for x, y in zip(astuple(a), astuple(b), strict=True)))
