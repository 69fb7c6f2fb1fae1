"""Stage enrich: enrichers add context (ATT&CK, GeoIP, intel) to findings.

Enrichers get their data in their constructor and do no other I/O.
"""
