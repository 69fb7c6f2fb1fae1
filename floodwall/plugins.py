"""Every plugin registry of the pipeline, in flow order, for tools and the completeness test."""

from __future__ import annotations

from typing import Any

from floodwall.detect.sigma.correlation import CorrelationEngine
from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.ingest.paths import SOURCES
from floodwall.normalize.dispatch import NORMALIZERS
from floodwall.registry import Registry

#: Log detectors: the Sigma engine, and correlation over its matches.
DETECTORS: Registry[Any] = Registry("detector", (SigmaEngine, CorrelationEngine))

REGISTRIES: tuple[Registry[Any], ...] = (SOURCES, NORMALIZERS, DETECTORS)
