"""Mail detectors: each reads one parsed ``MailMessage`` and names what it saw.

The phishing and impersonation detectors below need reference data (the Public Suffix
List, brands, shorteners, phrases); ``floodwall.detect.mail.reference`` loads it once and
the caller passes it to their constructors. They do no I/O and hold no scores.
"""

from __future__ import annotations

from floodwall.detect.mail.callback_lure import CallbackLureDetector
from floodwall.detect.mail.credential_wording import CredentialWordingDetector
from floodwall.detect.mail.crypto_lure import CryptoLureDetector
from floodwall.detect.mail.display_name_impersonation import DisplayNameImpersonationDetector
from floodwall.detect.mail.free_hosting_link import FreeHostingLinkDetector
from floodwall.detect.mail.freemail_org_claim import FreemailOrgClaimDetector
from floodwall.detect.mail.hidden_text import HiddenTextDetector
from floodwall.detect.mail.ip_literal_url import IpLiteralUrlDetector
from floodwall.detect.mail.link_text_mismatch import LinkTextMismatchDetector
from floodwall.detect.mail.lookalike_domain import LookalikeDomainDetector
from floodwall.detect.mail.lookalike_link import LookalikeLinkDetector
from floodwall.detect.mail.newly_seen_domain import NewlySeenDomainDetector
from floodwall.detect.mail.open_redirect import OpenRedirectDetector
from floodwall.detect.mail.pdf_link_lure import PdfLinkLureDetector
from floodwall.detect.mail.prize_lure import PrizeLureDetector
from floodwall.detect.mail.random_sender import RandomSenderDetector
from floodwall.detect.mail.recipient_in_subject import RecipientInSubjectDetector
from floodwall.detect.mail.reply_to_freemail import ReplyToFreemailDetector
from floodwall.detect.mail.reply_to_mismatch import ReplyToMismatchDetector
from floodwall.detect.mail.return_path_mismatch import ReturnPathMismatchDetector
from floodwall.detect.mail.sender_free_hosting import SenderFreeHostingDetector
from floodwall.detect.mail.shortened_only import ShortenedOnlyDetector
from floodwall.detect.mail.unicode_obfuscation import UnicodeObfuscationDetector
from floodwall.detect.mail.url_shortener import UrlShortenerDetector

#: Phishing and impersonation detectors (issue 3), in the order they run.
PHISHING_DETECTORS: tuple[type, ...] = (
    ReplyToMismatchDetector,
    ReturnPathMismatchDetector,
    DisplayNameImpersonationDetector,
    LookalikeDomainDetector,
    LookalikeLinkDetector,
    IpLiteralUrlDetector,
    LinkTextMismatchDetector,
    UrlShortenerDetector,
    CredentialWordingDetector,
    PrizeLureDetector,
    CallbackLureDetector,
    CryptoLureDetector,
    FreeHostingLinkDetector,
    OpenRedirectDetector,
    UnicodeObfuscationDetector,
    HiddenTextDetector,
    ReplyToFreemailDetector,
    FreemailOrgClaimDetector,
    SenderFreeHostingDetector,
    RandomSenderDetector,
    PdfLinkLureDetector,
    ShortenedOnlyDetector,
    RecipientInSubjectDetector,
    NewlySeenDomainDetector,
)

__all__ = [
    "PHISHING_DETECTORS",
    "CallbackLureDetector",
    "CredentialWordingDetector",
    "CryptoLureDetector",
    "DisplayNameImpersonationDetector",
    "FreeHostingLinkDetector",
    "FreemailOrgClaimDetector",
    "HiddenTextDetector",
    "IpLiteralUrlDetector",
    "LinkTextMismatchDetector",
    "LookalikeDomainDetector",
    "LookalikeLinkDetector",
    "NewlySeenDomainDetector",
    "OpenRedirectDetector",
    "PdfLinkLureDetector",
    "PrizeLureDetector",
    "RandomSenderDetector",
    "RecipientInSubjectDetector",
    "ReplyToFreemailDetector",
    "ReplyToMismatchDetector",
    "ReturnPathMismatchDetector",
    "SenderFreeHostingDetector",
    "ShortenedOnlyDetector",
    "UnicodeObfuscationDetector",
    "UrlShortenerDetector",
]
