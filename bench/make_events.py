"""Generate Sysmon-like NDJSON events for the `floodwall hunt` benchmark.

The events are real Sysmon records from the OTRF Security-Datasets samples in
``../shared/data/log_samples/otrf_security_datasets`` (flat NDJSON, as OTRF exports
them), re-issued with new hosts, users, process ids, GUIDs and times so that a large
file does not repeat the same few thousand lines byte for byte.

Mix. Each event first draws an EventID from ``EVENT_MIX`` (a share of event types
closer to a production Sysmon configuration than the attack recordings, which are
dominated by ProcessAccess and ImageLoad), then a real record of that EventID
uniformly from the samples, so the samples' attack records come through at the rate
they have among records of their type. Process creation is the exception: the
samples hold only 28 of them, about half from the attack runs, so most process
creations (``1 - REAL_PROCESS_SHARE``) are benign variants that keep a real record's
shape and swap in a common Windows process from ``BENIGN_PROCESSES``.

Size. The OTRF export carries a rendered ``Message`` that repeats every field as
prose; it is dropped, which puts an event at about 1 KB as the benchmark specifies.
No Sigma rule for Sysmon matches on ``Message``.

Deterministic for a seed: the same seed and count give the same bytes, and the first
N events do not depend on how many follow (a prefix of a large file is a small file).

Usage::

    python bench/make_events.py OUT.ndjson --events 200000 --seed 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLES_DIR = SHARED / "log_samples" / "otrf_security_datasets"
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

#: Share of each Sysmon EventID in the output; "other" draws from the remaining
#: EventIDs of the samples (5, 9, 18, 23, ...).
EVENT_MIX: dict[int | str, float] = {
    1: 0.14,  # process creation: the largest Sigma category
    3: 0.12,  # network connection
    7: 0.18,  # image load
    10: 0.12,  # process access
    11: 0.12,  # file create
    12: 0.11,  # registry create/delete
    13: 0.11,  # registry value set
    22: 0.05,  # DNS query
    "other": 0.05,
}
#: Share of process creations that are real sample records (about half of those
#: are the attack runs' own commands); the rest are benign variants.
REAL_PROCESS_SHARE = 0.10
#: Fields that are OTRF transport noise rather than Sysmon data.
DROPPED_FIELDS = frozenset({"Message"})
HOSTS = 250
START = datetime(2024, 5, 6, 8, 0, 0, tzinfo=UTC)
#: Mean gap between events; about 100 events per second across the fleet.
MEAN_GAP_MS = 10.0

_FIRST = ["anna", "ben", "chen", "dana", "eli", "fatima", "george", "hana", "ivan", "julia"]
_LAST = ["meyer", "okafor", "rossi", "sato", "novak", "silva", "berg", "khan", "lopez"]
_SAMPLE_USERS = re.compile(r"(?i)(\\Users\\)(wardog|pgustavo|IT01-Pedro|pedro)(\\|$)")
_SERVICE_DOMAINS = ("NT AUTHORITY", "Font Driver Host", "Window Manager", "-")
_PID_FIELDS = (
    "ProcessId",
    "ParentProcessId",
    "SourceProcessId",
    "TargetProcessId",
    "SourceThreadId",
    "ThreadID",
    "ExecutionProcessID",
)
_GUID_FIELDS = (
    "ProcessGuid",
    "ParentProcessGuid",
    "SourceProcessGUID",
    "TargetProcessGUID",
    "SourceProcessGuid",
    "TargetProcessGuid",
    "LogonGuid",
)

_SYS32 = "C:\\Windows\\System32\\"
_CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
_EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
_OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
_EXPLORER = "C:\\Windows\\explorer.exe"
_SERVICES = _SYS32 + "services.exe"
_SVCHOST = _SYS32 + "svchost.exe"

#: Benign process creations: (Image, CommandLine, ParentImage, ParentCommandLine).
#: ``{user}`` is replaced by the event's user. Ordinary desktop and service activity.
BENIGN_PROCESSES: tuple[tuple[str, str, str, str], ...] = (
    (_SVCHOST, _SVCHOST + " -k netsvcs -p -s Schedule", _SERVICES, _SERVICES),
    (_SVCHOST, _SVCHOST + " -k LocalServiceNetworkRestricted -p", _SERVICES, _SERVICES),
    (_SVCHOST, _SVCHOST + " -k UnistackSvcGroup -s CDPUserSvc", _SERVICES, _SERVICES),
    (
        _SYS32 + "conhost.exe",
        "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
        _SYS32 + "cmd.exe",
        '"C:\\Windows\\system32\\cmd.exe"',
    ),
    (
        _SYS32 + "RuntimeBroker.exe",
        _SYS32 + "RuntimeBroker.exe -Embedding",
        _SVCHOST,
        _SVCHOST + " -k DcomLaunch -p",
    ),
    (
        _SYS32 + "backgroundTaskHost.exe",
        '"' + _SYS32 + 'backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider',
        _SVCHOST,
        _SVCHOST + " -k DcomLaunch -p",
    ),
    (
        _SYS32 + "taskhostw.exe",
        "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}",
        _SVCHOST,
        _SVCHOST + " -k netsvcs -p -s Schedule",
    ),
    (
        _SYS32 + "SearchProtocolHost.exe",
        '"' + _SYS32 + 'SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe5_ 1 -2147483646',
        _SYS32 + "SearchIndexer.exe",
        _SYS32 + "SearchIndexer.exe /Embedding",
    ),
    (
        _SYS32 + "wbem\\WmiPrvSE.exe",
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
        _SVCHOST,
        _SVCHOST + " -k DcomLaunch -p",
    ),
    (
        _SYS32 + "dllhost.exe",
        _SYS32 + "DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}",
        _SVCHOST,
        _SVCHOST + " -k DcomLaunch -p",
    ),
    (
        _SYS32 + "smartscreen.exe",
        _SYS32 + "smartscreen.exe -Embedding",
        _SVCHOST,
        _SVCHOST + " -k DcomLaunch -p",
    ),
    (
        _SYS32 + "CompatTelRunner.exe",
        _SYS32 + "CompatTelRunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun",
        _SVCHOST,
        _SVCHOST + " -k netsvcs -p -s Schedule",
    ),
    (
        _SYS32 + "wuauclt.exe",
        '"' + _SYS32 + 'wuauclt.exe" /RunHandlerComServer',
        _SVCHOST,
        _SVCHOST + " -k netsvcs -p -s wuauserv",
    ),
    (
        _CHROME,
        '"' + _CHROME + '" --type=renderer --lang=en-US --renderer-client-id=7 '
        "--time-ticks-at-unix-epoch=-1714975200000000 --launch-time-ticks=912345 "
        "--field-trial-handle=1912,i,1733582310,65536 --mojo-platform-channel-handle=3524",
        _CHROME,
        '"' + _CHROME + '"',
    ),
    (
        _EDGE,
        '"' + _EDGE + '" --type=utility --utility-sub-type=network.mojom.NetworkService '
        "--lang=en-US --service-sandbox-type=none --mojo-platform-channel-handle=2252",
        _EDGE,
        '"' + _EDGE + '" --no-startup-window',
    ),
    (
        "C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
        '"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe" /background',
        _EXPLORER,
        _EXPLORER,
    ),
    (
        _OFFICE + "WINWORD.EXE",
        '"' + _OFFICE + 'WINWORD.EXE" /n "C:\\Users\\{user}\\Documents\\Quarterly report.docx"',
        _EXPLORER,
        _EXPLORER,
    ),
    (
        _OFFICE + "EXCEL.EXE",
        '"' + _OFFICE + 'EXCEL.EXE" "C:\\Users\\{user}\\Documents\\budget 2024.xlsx"',
        _EXPLORER,
        _EXPLORER,
    ),
    (
        _OFFICE + "OUTLOOK.EXE",
        '"' + _OFFICE + 'OUTLOOK.EXE" /recycle',
        _EXPLORER,
        _EXPLORER,
    ),
    (
        _SYS32 + "notepad.exe",
        '"' + _SYS32 + 'notepad.exe" C:\\Users\\{user}\\Desktop\\notes.txt',
        _EXPLORER,
        _EXPLORER,
    ),
    (
        _EXPLORER,
        _EXPLORER,
        _SYS32 + "userinit.exe",
        _SYS32 + "userinit.exe",
    ),
    (
        _SYS32 + "sihost.exe",
        "sihost.exe",
        _SVCHOST,
        _SVCHOST + " -k netsvcs -p -s UserManager",
    ),
    (
        _SYS32 + "ctfmon.exe",
        '"ctfmon.exe"',
        _SVCHOST,
        _SVCHOST + " -k LocalSystemNetworkRestricted -p -s TabletInputService",
    ),
    (
        "C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
        '"C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe" '
        "--type=gpu-process --disable-features=CalculateNativeWinOcclusion",
        "C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
        '"C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe"',
    ),
    (
        _SYS32 + "MusNotification.exe",
        _SYS32 + "MusNotification.exe",
        _SVCHOST,
        _SVCHOST + " -k netsvcs -p -s Schedule",
    ),
)


@dataclass(frozen=True)
class Pool:
    """Real Sysmon records of the samples, grouped by EventID."""

    by_event_id: dict[int, list[dict[str, Any]]]
    other: list[dict[str, Any]]

    @property
    def size(self) -> int:
        """Number of records in the pool."""
        return sum(map(len, self.by_event_id.values())) + len(self.other)


def load_pool(samples_dir: Path = SAMPLES_DIR) -> Pool:
    """Read every Sysmon record of the OTRF samples (sorted file order: deterministic)."""
    files = sorted(samples_dir.glob("*.json.gz"))
    if not files:
        raise FileNotFoundError(f"no OTRF samples (*.json.gz) in {samples_dir}")
    by_event_id: dict[int, list[dict[str, Any]]] = {}
    other: list[dict[str, Any]] = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(record, dict) or record.get("Channel") != SYSMON_CHANNEL:
                    continue
                record = {k: v for k, v in record.items() if k not in DROPPED_FIELDS}
                event_id = int(record.get("EventID", 0))
                if event_id in EVENT_MIX:
                    by_event_id.setdefault(event_id, []).append(record)
                else:
                    other.append(record)
    missing = [e for e in EVENT_MIX if isinstance(e, int) and e not in by_event_id]
    if missing:
        raise ValueError(f"the samples hold no Sysmon records for EventID {missing}")
    return Pool(by_event_id, other)


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"


def _hosts(rng: random.Random) -> list[tuple[str, str, str]]:
    """(fqdn, user, ip) per workstation; one main user each, as on a real desktop fleet."""
    hosts = []
    for i in range(HOSTS):
        user = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}"
        hosts.append((f"WS{i:04d}.corp.example.com", user, f"10.20.{i // 200}.{i % 200 + 10}"))
    return hosts


def _set_time(event: dict[str, Any], when: datetime) -> None:
    """Rewrite every time field in the format the sample used for it."""
    utc = when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"
    iso = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    for key in ("UtcTime", "CreationUtcTime", "PreviousCreationUtcTime"):
        if key in event:
            event[key] = utc
    for key in ("@timestamp", "TimeCreated"):
        if key in event:
            event[key] = iso
    for key in ("EventTime", "EventReceivedTime"):
        if key in event:
            event[key] = utc[:19]


def _rewrite_users(value: str, user: str) -> str:
    return _SAMPLE_USERS.sub(lambda m: m.group(1) + user + m.group(3), value)


def _benign_process(event: dict[str, Any], rng: random.Random, user: str) -> None:
    image, cmd, parent, parent_cmd = rng.choice(BENIGN_PROCESSES)
    event["Image"] = image.replace("{user}", user)
    event["CommandLine"] = cmd.replace("{user}", user)
    event["ParentImage"] = parent.replace("{user}", user)
    event["ParentCommandLine"] = parent_cmd.replace("{user}", user)
    name = image.rsplit("\\", 1)[-1]
    event["OriginalFileName"] = name
    event["Description"] = name.rsplit(".", 1)[0]
    event["CurrentDirectory"] = "C:\\Windows\\system32\\"
    # A fresh hash per variant: the samples' hashes belong to the samples' binaries.
    event["Hashes"] = (
        f"SHA1={rng.getrandbits(160):040X},MD5={rng.getrandbits(128):032X},"
        f"SHA256={rng.getrandbits(256):064X},IMPHASH={rng.getrandbits(128):032X}"
    )


def generate(count: int, seed: int = 1, pool: Pool | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``count`` events; the i-th event depends only on the seed and i."""
    pool = pool or load_pool()
    rng = random.Random(seed)
    hosts = _hosts(rng)
    kinds = list(EVENT_MIX)
    weights = list(EVENT_MIX.values())
    when = START
    for number in range(count):
        kind = rng.choices(kinds, weights)[0]
        records = pool.other if kind == "other" else pool.by_event_id[int(kind)]
        event = dict(rng.choice(records))
        host, user, ip = rng.choice(hosts)
        if event.get("EventID") == 1 and rng.random() >= REAL_PROCESS_SHARE:
            _benign_process(event, rng, user)
        for key, value in event.items():
            if isinstance(value, str) and "\\" in value:
                event[key] = _rewrite_users(value, user)
        for key in ("User", "SourceUser", "TargetUser", "ParentUser"):
            value = event.get(key)
            # Service accounts stay; people become the host's user.
            if isinstance(value, str) and "\\" in value and not value.startswith(_SERVICE_DOMAINS):
                event[key] = "CORP\\" + user
        event["Hostname"] = host
        event["Computer"] = host
        if "SourceIp" in event and str(event["SourceIp"]).startswith(("192.168.", "172.", "10.")):
            event["SourceIp"] = ip
        for key in _GUID_FIELDS:
            if key in event:
                event[key] = _guid(rng)
        for key in _PID_FIELDS:
            if key in event:
                pid = rng.randrange(4, 65536, 4)
                event[key] = pid if isinstance(event[key], int) else str(pid)
        if "RecordNumber" in event:
            event["RecordNumber"] = number + 1
        when += timedelta(milliseconds=rng.expovariate(1.0 / MEAN_GAP_MS))
        _set_time(event, when)
        yield event


def write_events(path: Path, count: int, seed: int = 1) -> tuple[int, int]:
    """Write ``count`` events as NDJSON to ``path``; return (events, bytes)."""
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for event in generate(count, seed):
            line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
    return count, written


def main(argv: list[str] | None = None) -> int:
    """Command line: write N events to a path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="NDJSON file to write")
    parser.add_argument("--events", type=int, default=200_000, help="number of events")
    parser.add_argument("--seed", type=int, default=1, help="random seed (deterministic output)")
    args = parser.parse_args(argv)
    count, size = write_events(args.out, args.events, args.seed)
    print(
        f"wrote {count} events, {size / 1e6:.1f} MB ({size / max(count, 1):.0f} B/event) "
        f"to {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
