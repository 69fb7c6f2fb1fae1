"""Stage enrich: enrichers add context (ATT&CK, GeoIP, intel) to findings; data comes in their constructor."""
