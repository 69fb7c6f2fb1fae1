"""A small confusables table and the skeleton of a domain label (after Unicode UTS #39 §4).

UTS #39 ("Unicode Security Mechanisms") defines ``skeleton(X)``: decompose, map every
character to its prototype from ``confusables.txt``, decompose again. Two strings with
the same skeleton look alike. The full table has ~6,000 entries; this one keeps the
Cyrillic and Greek letters that pass for Latin ones in domain names (the classic IDN
homograph attack, RFC 5890 §4 and RFC 6943 §3), plus the ASCII swaps phishers type:
``0``/``o``, ``1``/``l``, ``rn``/``m``, ``vv``/``w``.
"""

from __future__ import annotations

import unicodedata

#: Non-Latin (and a few Latin) letters mapped to the ASCII letter they pass for (UTS #39
#: confusables.txt, "MA" table, restricted to lowercase letters used in IDN labels).
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i",
    "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "п": "n", "о": "o", "р": "p",
    "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "у": "y", "ԝ": "w", "х": "x", "ү": "y",
    "ь": "b", "ћ": "h", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ϲ": "c", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    # Latin lookalikes that NFKD does not fold
    "ı": "i", "ȷ": "j", "ł": "l", "ɑ": "a", "ɩ": "i", "ǀ": "l", "ø": "o", "đ": "d",
    "ħ": "h", "ŀ": "l", "ß": "ss", "æ": "ae", "œ": "oe",
}  # fmt: skip

#: ASCII sequences that read as another letter (UTS #39 maps "rn" to "m" and "1" to "l").
ASCII_SWAPS: tuple[tuple[str, str], ...] = (
    ("rn", "m"),
    ("vv", "w"),
    ("0", "o"),
    ("1", "l"),
)


def skeleton(label: str) -> str:
    """The lookalike skeleton of a (Unicode, lowercase) domain label.

    ``раураl`` (Cyrillic), ``paypa1`` and ``pаypal`` all give ``paypal``.
    """
    folded = unicodedata.normalize("NFKD", label.lower())
    chars = [CONFUSABLES.get(c, c) for c in folded if not unicodedata.combining(c)]
    out = "".join(chars)
    for seq, repl in ASCII_SWAPS:
        out = out.replace(seq, repl)
    return out


def is_mixed_script(label: str) -> bool:
    """True when ``label`` mixes ASCII letters with letters from another script (UTS #39 §5)."""
    has_ascii = any(c.isascii() and c.isalpha() for c in label)
    return has_ascii and any(not c.isascii() and c.isalpha() for c in label)
