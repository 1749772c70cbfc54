"""Tracking numbers: public, unguessable, easy to read aloud.

Format: ``DM-XXXXX-XXXXX-XXXXX``: 15 symbols from Crockford's base32 alphabet (no I, L, O or U),
so 75 bits from the OS's CSPRNG. No counter, time or id goes in, so numbers say nothing about
volume or order.
"""

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "DM"
GROUPS = 3
GROUP_SIZE = 5
SYMBOLS = GROUPS * GROUP_SIZE
ENTROPY_BITS = SYMBOLS * 5  # log2(32) bits per symbol

# Letters people mistype, mapped the way Crockford's base32 decodes them.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CANONICAL = re.compile(rf"^{PREFIX}(?:-[{ALPHABET}]{{{GROUP_SIZE}}}){{{GROUPS}}}$")


def generate() -> str:
    bits = secrets.randbits(ENTROPY_BITS)
    symbols = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(SYMBOLS))
    groups = [symbols[i : i + GROUP_SIZE] for i in range(0, SYMBOLS, GROUP_SIZE)]
    return "-".join([PREFIX, *groups])


def normalize(raw: str) -> str | None:
    """The canonical form of what a person typed, or None when it cannot be a tracking number.

    Accepts lower case, spaces, missing dashes and the usual O/0 and I/L/1 confusions.
    """
    compact = re.sub(r"[\s\-]", "", (raw or "").upper())
    if not compact.startswith(PREFIX):
        return None
    body = compact[len(PREFIX) :].translate(_CONFUSABLE)
    if len(body) != SYMBOLS or any(ch not in ALPHABET for ch in body):
        return None
    groups = [body[i : i + GROUP_SIZE] for i in range(0, SYMBOLS, GROUP_SIZE)]
    return "-".join([PREFIX, *groups])


def is_canonical(value: str) -> bool:
    return bool(_CANONICAL.match(value or ""))
