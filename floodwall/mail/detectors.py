"""The mail detectors, built once per run with their reference data."""

from __future__ import annotations

from floodwall.detect.mail import (
    CallbackLureDetector,
    CredentialWordingDetector,
    CryptoLureDetector,
    DisplayNameImpersonationDetector,
    FreeHostingLinkDetector,
    FreemailOrgClaimDetector,
    HiddenTextDetector,
    IpLiteralUrlDetector,
    LinkTextMismatchDetector,
    LookalikeDomainDetector,
    LookalikeLinkDetector,
    OpenRedirectDetector,
    PdfLinkLureDetector,
    PrizeLureDetector,
    RandomSenderDetector,
    RecipientInSubjectDetector,
    ReplyToFreemailDetector,
    ReplyToMismatchDetector,
    ReturnPathMismatchDetector,
    SenderFreeHostingDetector,
    ShortenedOnlyDetector,
    UnicodeObfuscationDetector,
    UrlShortenerDetector,
)
from floodwall.detect.mail.auth_results import AuthResultsDetector
from floodwall.detect.mail.clamav import ClamavDetector
from floodwall.detect.mail.clamd import ClamdClient
from floodwall.detect.mail.dangerous_attachment import DangerousAttachmentDetector
from floodwall.detect.mail.double_extension import DoubleExtensionDetector
from floodwall.detect.mail.eicar_test_file import EicarTestFileDetector
from floodwall.detect.mail.encrypted_archive import EncryptedArchiveDetector
from floodwall.detect.mail.encrypted_pdf import EncryptedPdfDetector
from floodwall.detect.mail.file_type_mismatch import FileTypeMismatchDetector
from floodwall.detect.mail.from_malformed import FromMalformedDetector
from floodwall.detect.mail.hash_ioc import HashIocDetector
from floodwall.detect.mail.html_credential_form import HtmlCredentialFormDetector
from floodwall.detect.mail.html_smuggling import HtmlSmugglingDetector
from floodwall.detect.mail.macro_autoexec import MacroAutoexecDetector
from floodwall.detect.mail.macro_suspicious import MacroSuspiciousDetector
from floodwall.detect.mail.newly_seen_domain import NewlySeenDomainDetector
from floodwall.detect.mail.office_dde import OfficeDdeDetector
from floodwall.detect.mail.onenote_embedded import OnenoteEmbeddedDetector
from floodwall.detect.mail.pdf_active import PdfActiveDetector
from floodwall.detect.mail.reference import (
    as_domains,
    load_brands_cached,
    load_free_hosting,
    load_freemail,
    load_phrases,
    load_psl,
    load_redirectors,
    load_shorteners,
)
from floodwall.detect.mail.remote_template import RemoteTemplateDetector
from floodwall.detect.mail.return_path_malformed import ReturnPathMalformedDetector
from floodwall.detect.mail.rtf_object import RtfObjectDetector
from floodwall.detect.mail.rtlo_filename import RtloFilenameDetector
from floodwall.detect.mail.yara_match import YaraDetector
from floodwall.detect.mail.yara_rules import YaraRules
from floodwall.enrich.domain_history import DomainHistory
from floodwall.mail.scan import MailDetector
from floodwall.settings import Settings, bundled_data

ATTACHMENT_DETECTORS = (
    DangerousAttachmentDetector,
    DoubleExtensionDetector,
    RtloFilenameDetector,
    FileTypeMismatchDetector,
    EncryptedArchiveDetector,
    EncryptedPdfDetector,
    HtmlSmugglingDetector,
    HtmlCredentialFormDetector,
    MacroAutoexecDetector,
    MacroSuspiciousDetector,
    OfficeDdeDetector,
    RemoteTemplateDetector,
    RtfObjectDetector,
    PdfActiveDetector,
    OnenoteEmbeddedDetector,
    EicarTestFileDetector,
)


def build_detectors(
    settings: Settings,
    clamd: ClamdClient | None = None,
    history: DomainHistory | None = None,
) -> list[MailDetector]:
    """Every mail detector, with its reference data (bundled) and the organisation's own
    domains and executives (``[mail]`` in ``DATA/floodwall.toml``); ``history`` (the
    domains its mail named before, from the store) adds ``mail.newly_seen_domain``."""
    psl = load_psl()
    brands = load_brands_cached(psl, settings.cache_dir)
    own = as_domains(settings.own_domains, psl)
    lookalike = LookalikeDomainDetector(psl, brands, own)
    freemail = load_freemail()
    hosting = FreeHostingLinkDetector(psl, load_free_hosting())
    shorteners = load_shorteners()
    phishing: list[MailDetector] = [
        ReplyToMismatchDetector(psl, freemail),
        ReplyToFreemailDetector(psl, freemail),
        FreemailOrgClaimDetector(psl, freemail),
        ReturnPathMismatchDetector(psl, settings.trusted_authserv),
        DisplayNameImpersonationDetector(psl, brands, settings.executives, own),
        lookalike,
        LookalikeLinkDetector(lookalike),
        IpLiteralUrlDetector(),
        LinkTextMismatchDetector(psl),
        UrlShortenerDetector(psl, shorteners),
        ShortenedOnlyDetector(psl, shorteners),
        CredentialWordingDetector(load_phrases()),
        PrizeLureDetector(),
        CallbackLureDetector(),
        CryptoLureDetector(),
        hosting,
        OpenRedirectDetector(psl, load_redirectors()),
        SenderFreeHostingDetector(hosting),
        RandomSenderDetector(),
        RecipientInSubjectDetector(),
        PdfLinkLureDetector(psl, shorteners, hosting),
        UnicodeObfuscationDetector(),
        HiddenTextDetector(),
        AuthResultsDetector(settings.trusted_authserv),
        FromMalformedDetector(psl),
        ReturnPathMalformedDetector(psl),
    ]
    if history is not None:
        days, baseline = settings.new_domain_days, settings.new_domain_baseline_days
        new = NewlySeenDomainDetector(psl, history, brands.known, own, days, baseline)
        phishing.append(new)
    # Signature-base YARA rules are DRL 1.1: findings keep author, reference and license.
    yara = YaraRules.compile(bundled_data() / "yara", settings.cache_dir / "yara")
    # Known-bad hashes come from the intel store (issue 4); none are bundled.
    intel: list[MailDetector] = [YaraDetector(yara), HashIocDetector({})]
    if clamd is not None:
        intel.append(ClamavDetector(clamd))
    return [cls() for cls in ATTACHMENT_DETECTORS] + phishing + intel
