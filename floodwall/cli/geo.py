"""``floodwall geo``: the GeoIP/ASN data in use, an offline update, and lookups.

Floodwall never downloads this data. ``update`` rebuilds the tables from files the user
fetched (see :mod:`floodwall.enrich.geo_build` for the formats) into the data directory,
where they take precedence over the bundled copy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from floodwall.enrich.geo_build import update_geo_dir
from floodwall.enrich.geoip import default_geo_dir, load_geo_data
from floodwall.enrich.origin import load_anonymizers, load_origin_enricher
from floodwall.settings import Settings, bundled_data


def register(sub: Any) -> None:
    p = sub.add_parser("geo", help="GeoIP/ASN data: info, offline update, lookups")
    gsub = p.add_subparsers(dest="geo_command", metavar="ACTION", required=True)
    info = gsub.add_parser("info", help="which data is in use, its version and size")
    info.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    info.set_defaults(run=run_info)
    up = gsub.add_parser("update", help="rebuild the tables from files you downloaded")
    up.add_argument("source", type=Path, help="folder holding the downloaded files")
    up.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    up.set_defaults(run=run_update)
    look = gsub.add_parser("lookup", help="country, AS and origin class of addresses")
    look.add_argument("ips", nargs="+", metavar="IP")
    look.add_argument("--data", type=Path, metavar="DIR", help="data directory")
    look.add_argument("--home", metavar="CC", help="home country (default: [origin] setting)")
    look.add_argument("--format", choices=("table", "json"), default="table")
    look.set_defaults(run=run_lookup)


def run_info(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    directory = default_geo_dir(settings)
    geo = load_geo_data(directory, settings.cache_dir)
    anon = load_anonymizers(directory, settings.cache_dir)
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    console.print(f"geo data: {directory} ({size / 1e6:.1f} MB)", markup=False)
    version = directory / "VERSION"
    text = version.read_text("utf-8").strip() if version.exists() else "(no VERSION)"
    console.print(text, markup=False)
    console.print(
        f"{geo.countries.rows:,} country ranges, {geo.asns.rows:,} ASN ranges, "
        f"{len(geo.asn_numbers) - 1:,} ASNs; {anon.table.rows:,} anonymizer ranges "
        f"({', '.join(anon.list_names)})"
    )
    home = settings.home_country or "(not set: [origin] home_country in floodwall.toml)"
    console.print(f"home country: {home}", markup=False)
    return 0


def run_update(args: argparse.Namespace) -> int:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings.load(args.data)
    target = settings.data_dir / "geo"
    current = target if (target / "geo.npz").is_file() else bundled_data() / "geo"
    try:
        log = update_geo_dir(args.source, target, current)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]floodwall geo update:[/] {exc}")
        return 2
    geo = load_geo_data(target)
    skipped = sum(log.skipped.values())
    console.print(
        f"GeoIP data updated in {target}: {geo.countries.rows:,} country ranges, "
        f"{geo.asns.rows:,} ASN ranges from {', '.join(log.read) or 'the previous copy'}"
        f"; {skipped:,} bad lines skipped.",
        markup=False,
    )
    return 0


def run_lookup(args: argparse.Namespace) -> int:
    settings = Settings.load(args.data)
    if args.home is not None:
        settings = dataclasses.replace(settings, home_country=args.home.strip().upper())
    origins = load_origin_enricher(settings).classify_many(args.ips)
    if args.format == "json":
        print(json.dumps([o.as_dict() for o in origins], ensure_ascii=False, indent=2))
        return 0
    console = Console(highlight=False, soft_wrap=True)
    for o in origins:
        where = f"{o.country_code} {o.country_name}".strip() or "-"
        network = f"AS{o.asn} {o.as_org}" if o.asn else "-"
        console.print(f"{o.ip}  {o.origin.value}  {where}  {network}  ({o.reason})", markup=False)
    return 0
