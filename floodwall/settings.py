"""Settings: loaded once at the edge (the CLI) and passed in, never read from a global."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from floodwall.detect.sigma.loader import SIGMAHQ_BLOB, RuleDir
from floodwall.store.db import default_data_dir


def bundled_data() -> Path:
    """The reference data shipped inside the package (rules, samples)."""
    return Path(str(resources.files("floodwall").joinpath("data")))


#: The SigmaHQ folders that make the default rule set.
RULE_SETS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


def default_rule_dirs(settings: Settings | None = None) -> list[RuleDir]:
    """SigmaHQ's rules, emerging threats and threat hunting rules (DRL 1.1): the copy
    ``floodwall rules update`` put in the data directory, else the bundled one."""
    root = bundled_data() / "sigma"
    if settings is not None and (settings.data_dir / "sigma" / "rules").is_dir():
        root = settings.data_dir / "sigma"
    return [RuleDir(root / d, SIGMAHQ_BLOB, root) for d in RULE_SETS if (root / d).is_dir()]


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "floodwall"


@dataclass(frozen=True)
class Settings:
    """Where Floodwall keeps its store and caches, and values for rule placeholders."""

    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    own_domains: tuple[str, ...] = ()  # the organisation's mail domains (lookalike checks)
    executives: tuple[str, ...] = ()  # names display-name impersonation looks for
    trusted_authserv: tuple[str, ...] = ()  # hosts whose Authentication-Results count
    mail_dns: str = "off"  # [mail] dns: "off", "system" or "HOST:PORT" (SPF/DKIM/DMARC lookups)
    new_domain_days: float = 7.0  # [mail] new_domain_days: a link domain first seen since is new
    new_domain_baseline_days: float = 14.0  # [mail] history needed before any domain is new
    quarantine_retention_days: int = 30  # [quarantine] retention_days
    gateway_relay: str = ""  # [gateway] relay: the next hop, "host:port"
    home_country: str = ""  # [origin] home_country: ISO 3166 alpha-2; "" = origin unknown

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Settings:
        """Defaults, then ``floodwall.toml`` in the data directory if there is one."""
        base = cls() if data_dir is None else cls(data_dir=data_dir)
        config = base.data_dir / "floodwall.toml"
        if not config.is_file():
            return base
        doc = tomllib.loads(config.read_text(encoding="utf-8"))
        ph = doc.get("placeholders", {})
        mail = doc.get("mail", {})
        return cls(
            data_dir=base.data_dir,
            cache_dir=Path(doc.get("cache_dir", base.cache_dir)),
            placeholders={str(k): tuple(str(x) for x in v) for k, v in ph.items()},
            own_domains=tuple(str(d) for d in mail.get("own_domains", ())),
            executives=tuple(str(n) for n in mail.get("executives", ())),
            trusted_authserv=tuple(str(h) for h in mail.get("trusted_authserv", ())),
            mail_dns=str(mail.get("dns", "off")),
            new_domain_days=_days(mail, "new_domain_days", 7.0),
            new_domain_baseline_days=_days(mail, "new_domain_baseline_days", 14.0),
            quarantine_retention_days=int(doc.get("quarantine", {}).get("retention_days", 30)),
            gateway_relay=str(doc.get("gateway", {}).get("relay", "")),
            home_country=str(doc.get("origin", {}).get("home_country", "")).strip().upper(),
        )


def _days(mail: dict[str, object], key: str, default: float) -> float:
    """``[mail] key`` as a number of days, with what is wrong said by its name."""
    value = mail.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(
            f"floodwall.toml: [mail] {key} = {value!r}: give a number of days, 0 or more"
        )
    return float(value)
