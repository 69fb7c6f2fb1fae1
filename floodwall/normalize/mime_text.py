"""Text helpers of the MIME normalizer: headers, charsets, HTML, links, names, passwords.

Every decoder here replaces what it cannot read and says so in ``notes`` instead
of raising: attackers write the input (DESIGN.md, "Bad input and faults").
"""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser

from floodwall.normalize.mime_tree import decode_base64
from floodwall.records import Link

# RFC 5322 section 2.2.3: unfolding removes a CRLF that is followed by white space. Done
# after CRLF became LF: a pattern that starts with a literal is searched for at memory
# speed (``\r?\n`` was tried at every character of 9 KB of headers per message).
_FOLD = re.compile(r"\n(?=[ \t])")
# RFC 2047 2: =?charset?encoding?text?= (the text may hold blanks: broken mailers do that)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?(.*?)\?=")
_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^\[\]]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)'\"»”"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A password word, up to four words on ("Senha de acesso ao PDF", "password for the file
# is"), then a separator ("[PDF Password]:62734", "Passwort (ZIP): x") and the password, or
# with no separator a password with a digit ("Senha do PDF 123"). "pass" is part of other
# words ("SuperPass", "Spass"): it and "pwd" take a separator right after them.
_PASSWORD = re.compile(
    r"""
    (?: (?:password|passwort|kennwort|mot[ ]de[ ]passe|contrase[ñn]a|senha|wachtwoord|parola|hasło)
        (?:[^\S\n]+[^\W\d_]{1,20}){0,4}
        (?:[^\S\n]*(?:\([^)\n]{0,20}\)|\])?[^\S\n]*[:：=]\s* | [^\S\n]+(?=[^\s\d]{0,63}\d))
    | (?:pwd|pass)[^\S\n]*(?:\([^)\n]{0,20}\))?[^\S\n]*[:：=]\s*
    )
    (\S{1,64})
    """,
    re.IGNORECASE | re.VERBOSE,
)
_QUOTED_TOKEN = re.compile(r"[\"'“”«»‘’]([^\s\"'“”«»‘’]{3,32})[\"'“”«»‘’]")
MAX_PASSWORDS = 20  # each one is tried on every encrypted archive
MAX_NAME = 255


@lru_cache(maxsize=256)  # a few charset names cover nearly all mail
def charset_codec(charset: str | None) -> str | None:
    """The Python codec of a MIME charset name (RFC 2046 4.1.2), None when unknown."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset.strip().strip('"'))
    except (LookupError, ValueError):
        return None
    # Codecs such as "rot13" or "zlib" are not text encodings (bytes.decode refuses them).
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_text(data: bytes, charset: str | None, where: str, notes: list[str]) -> str:
    """Decode a body part; an unknown charset or bad bytes are replaced and noted."""
    codec = charset_codec(charset) if charset else None
    if charset and codec != "ascii":  # 8-bit text labelled us-ascii is common and harmless
        if codec is None:
            notes.append(f"invalid charset {charset[:60]!r} in {where}")
            return data.decode("utf-8", "replace")
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, ValueError):
            notes.append(f"invalid {codec} bytes in {where}")
            return data.decode(codec, "replace")
    # No charset: RFC 2045 says us-ascii, but undeclared 8-bit text is common.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode_header_value(name: str, raw: str, notes: list[str]) -> str:
    """A header's value as text: unfolded (RFC 5322), encoded words decoded (RFC 2047)."""
    value = _FOLD.sub("", raw.replace("\r\n", "\n")).strip() if "\n" in raw else raw.strip()
    if "=?" not in value:
        return value
    # [text, charset, kind, encoded, text, ..., text]: phishing encodes word by word
    pieces = _ENCODED_WORD.split(value)
    out: list[str] = []
    charset = ""  # of the run of adjacent encoded words being joined
    run: list[bytes] = []  # a UTF-8 character is often split across two words
    for i in range(0, len(pieces) - 1, 4):
        between = pieces[i]
        if between and not (run and between.isspace()):  # RFC 2047 6.2: blanks between
            _flush(charset, run, out, name, notes)  # adjacent encoded words are dropped
            out.append(between)
        word_charset = pieces[i + 1].partition("*")[0].lower()  # RFC 2231 5: *language
        if run and word_charset != charset:
            _flush(charset, run, out, name, notes)
        charset = word_charset
        octets = pieces[i + 3].encode("utf-8", "replace")
        if pieces[i + 2] in "bB":
            try:
                run.append(binascii.a2b_base64(octets))
            except binascii.Error:
                run.append(decode_base64(octets)[0])
        else:
            run.append(binascii.a2b_qp(octets, header=True))
    _flush(charset, run, out, name, notes)
    out.append(pieces[-1])
    return "".join(out)


def _flush(charset: str, run: list[bytes], out: list[str], name: str, notes: list[str]) -> None:
    """Decode a run of adjacent encoded words of one charset, and empty it."""
    if not run:
        return
    if charset == "unknown-8bit":  # RFC 1428: 8-bit text of no known charset (Python writes it)
        out.append(decode_text(b"".join(run), None, "", notes))
        run.clear()
        return
    codec = charset_codec(charset)
    if codec is None:
        notes.append(f"invalid charset {charset[:60]!r} in header {name[:60]}")
        codec = "utf-8"
    out.append(b"".join(run).decode(codec, "replace"))
    run.clear()


def html_to_text(html: str) -> tuple[str, list[Link]]:
    """The visible text of an HTML body and its links (``<a href>``, ``<area href>``)."""
    tree = LexborHTMLParser(html)
    links: list[Link] = []
    for node in tree.css("a[href], area[href]"):
        href = (node.attributes.get("href") or "").strip()
        if href:
            links.append(Link(href, node.text(deep=True, separator=" ", strip=True)))
    tree.strip_tags(["script", "style", "head", "template"])
    root = tree.body or tree.root
    text = root.text(deep=True, separator=" ", strip=True) if root is not None else ""
    return " ".join(text.split()), links


def bare_urls(text: str) -> list[str]:
    """http(s) URLs written out in plain text, trailing punctuation left off."""
    return [m.group().rstrip(_URL_TAIL) for m in _URL.finditer(text)]


def safe_name(name: str) -> tuple[str, bool]:
    """A file name fit to show and to match: (basename without control chars, was unsafe).

    Path traversal (``../``), absolute paths, backslashes and control characters
    (NUL ...) in an attachment name are removed and reported as unsafe.
    """
    cleaned = _CONTROL.sub("", name)
    base = cleaned.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in (".", ".."):
        base = ""
    unsafe = cleaned != name or base != name.strip() or len(base) > MAX_NAME
    return base[:MAX_NAME], unsafe


def passwords_in(text: str) -> list[str]:
    """Candidate archive passwords in a message's text, in order, at most 20.

    The word after "password:" (also German, French, Spanish, Portuguese, Dutch,
    Italian, Polish forms and "pwd"), a few words on ("Senha do PDF: 123", "Senha do PDF
    123"), then short quoted tokens ("the code is '7731'").
    """
    found: list[str] = []
    for match in _PASSWORD.finditer(text):
        word = match.group(1).strip(".,;\"'“”«»‘’")
        if word and word not in found:
            found.append(word)
        if len(found) >= MAX_PASSWORDS:
            return found
    for match in _QUOTED_TOKEN.finditer(text):
        word = match.group(1)
        if word not in found:
            found.append(word)
        if len(found) >= MAX_PASSWORDS:
            break
    return found
