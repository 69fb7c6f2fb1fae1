"""Every plugin registry of the pipeline, in flow order, for tools and the completeness test."""

from __future__ import annotations

from typing import Any

from floodwall.detect.mail import PHISHING_DETECTORS
from floodwall.detect.mail.auth_results import AuthResultsDetector
from floodwall.detect.mail.clamav import ClamavDetector
from floodwall.detect.mail.from_malformed import FromMalformedDetector
from floodwall.detect.mail.hash_ioc import HashIocDetector
from floodwall.detect.mail.return_path_malformed import ReturnPathMalformedDetector
from floodwall.detect.mail.yara_match import YaraDetector
from floodwall.detect.sigma.correlation import CorrelationEngine
from floodwall.detect.sigma.engine import SigmaEngine
from floodwall.ingest.paths import SOURCES
from floodwall.mail.detectors import ATTACHMENT_DETECTORS
from floodwall.normalize.dispatch import NORMALIZERS
from floodwall.registry import Registry

#: Log detectors: the Sigma engine, and correlation over its matches.
DETECTORS: Registry[Any] = Registry("detector", (SigmaEngine, CorrelationEngine))

#: Mail detectors: attachments first, then phishing and impersonation.
MAIL_DETECTORS: Registry[Any] = Registry(
    "mail_detector",
    (
        *ATTACHMENT_DETECTORS,
        *PHISHING_DETECTORS,
        AuthResultsDetector,
        FromMalformedDetector,
        ReturnPathMalformedDetector,
        YaraDetector,
        ClamavDetector,
        HashIocDetector,
    ),
)

REGISTRIES: tuple[Registry[Any], ...] = (SOURCES, NORMALIZERS, DETECTORS, MAIL_DETECTORS)
