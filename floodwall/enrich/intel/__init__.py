"""Threat intel: feed parsers (MISP, STIX 2.1, plain lists), value normalization,
MISP warninglists and the in-line matcher.

Parsers yield ``Indicator`` records (or ``Skipped`` entries with a reason); the store
(``floodwall.store.intel``) de-duplicates them across sources; ``IntelMatcher`` is built
from the store's indicators once and matches observables without I/O.
"""
