"""What an app may be called when it registers itself.

A person decides on the consent page from the app's name, so a self-registered app must
not be able to call itself after this server ("Laurels", its host name), after a role
people trust ("Admin", "Official", "Support", "Security"), after an app already
registered here, or after a web address, nor hide characters in its name. Lookalikes
count as the same name: names are compared by their *key*, the name with compatibility
forms folded (NFKC), accents dropped, case folded and each Unicode confusable (UTS #39
data, from the confusable-homoglyphs package) replaced by the ASCII letter it passes for.

The operator is trusted: the admin site and `laurels apps create` may use any name, and
may call `impersonation_problem` to warn.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from urllib.parse import urlsplit

from confusable_homoglyphs.confusables import confusables_data
from django.conf import settings

BRAND = "Laurels"
# Whole words (or runs of words: "Ad Min") a self-registered name may not contain.
RESERVED_WORDS = ("admin", "administrator", "official", "support", "security")
NAME_KEY_MAX_CHARS = 255

# Unicode categories never shown as text: controls, format characters (zero-width and
# bidirectional overrides among them), surrogates, private use, unassigned, line breaks.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
WEB_ADDRESS = re.compile(
    r"://|\bwww\.|@|\b\d{1,3}(?:\.\d{1,3}){3}\b|[\w-]\.(?!\d)[\w-]{2,}\b", re.IGNORECASE
)


def hidden_character(text: str) -> str | None:
    """The first character of `text` that is not visible text, as U+XXXX, or None."""
    for char in text:
        if unicodedata.category(char) in HIDDEN_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


@cache
def _ascii_lookalike(char: str) -> str:
    """The ASCII letter (else digit) `char` may pass for; `char` itself if none.

    ASCII letters are never replaced (they are what the others are compared with); ASCII
    digits are, since "Laure1s" passes for "Laurels".
    """
    if char.isascii() and char.isalpha():
        return char
    lookalikes = [
        glyph["c"]
        for glyph in confusables_data.get(char, ())
        if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum()
    ]
    letters = [c for c in lookalikes if c.isalpha()]
    return (letters or lookalikes or [char])[0].lower()


def _skeleton(name: str) -> str:
    """`name` as it looks: folded, unaccented, lower case, lookalikes made ASCII."""
    decomposed = unicodedata.normalize("NFKD", name)
    shown = "".join(c for c in decomposed if not unicodedata.combining(c))
    out = []
    for char in shown:
        folded = char.casefold()
        if len(folded) != 1:
            out.append(folded)
            continue
        lookalike = _ascii_lookalike(folded)
        if lookalike == folded and not folded.isascii():
            lookalike = _ascii_lookalike(
                char
            )  # Cyrillic capital Em passes for M, its small em not for m
        out.append(lookalike)
    return "".join(out)


def _split_camel_case(text: str) -> str:
    """ "MyAdminApp" → "My Admin App": a word starts at each capital after a small letter."""
    out = []
    for before, char in zip(" " + text, text, strict=False):
        if before.islower() and char.isupper():
            out.append(" ")
        out.append(char)
    return "".join(out)


def _words(name: str) -> list[str]:
    """The words of `name` as they look: skeletons, split at spaces, punctuation and
    camelCase capitals."""
    spaced = _split_camel_case(unicodedata.normalize("NFKC", name))
    return [word for word in re.split(r"[\W_]+", _skeleton(spaced)) if word]


def name_key(name: str) -> str:
    """The key two names share when they look alike: letters and digits of the skeleton."""
    return "".join(_words(name))[:NAME_KEY_MAX_CHARS]


# Lookalikes the UTS #39 data leaves out, or gives only one reading of: a digit or a
# letter that passes for each of several ASCII letters counts as any of them.
EXTRA_LOOKALIKES = {
    "0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "\u0142": "l",  # ł
    "\u0131": "il",  # dotless i
    "\u0280": "r",  # small capital R
    "\u0454": "e",  # Ukrainian ie
    "\u0269": "il",  # iota
    "\u01c0": "il",  # dental click
    "|": "il", "$": "s",
}  # fmt: skip


@cache
def _readings(char: str) -> frozenset[str]:
    """Every ASCII letter or digit `char` may be read as (itself included)."""
    folded = char.casefold()
    readings = {folded, _ascii_lookalike(folded), _ascii_lookalike(char)}
    readings.update(EXTRA_LOOKALIKES.get(folded, ""))
    readings.update(
        glyph["c"].lower()
        for glyph in confusables_data.get(char, ())
        if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum()
    )
    return frozenset(readings)


def _shapes(name: str) -> list[list[frozenset[str]]]:
    """The words of `name` (as `_words` splits them), each character as its readings."""
    spaced = _split_camel_case(unicodedata.normalize("NFKC", name))
    decomposed = unicodedata.normalize("NFKD", spaced)
    shown = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [[_readings(char) for char in word] for word in re.split(r"[\W_]+", shown) if word]


def _spells(chars: list[frozenset[str]], term: str) -> bool:
    return len(chars) == len(term) and all(t in c for c, t in zip(chars, term, strict=True))


def _contains_run(words: list[list[frozenset[str]]], term: str) -> bool:
    """Whether consecutive whole words may be read as `term` ("ad", "min" spell admin)."""
    for start in range(len(words)):
        joined: list[frozenset[str]] = []
        for word in words[start:]:
            joined += word
            if len(joined) >= len(term):
                if _spells(joined, term):
                    return True
                break
    return False


def _contains_anywhere(words: list[list[frozenset[str]]], term: str) -> bool:
    """Whether `term` may be read anywhere in the name, across word boundaries."""
    chars = [char for word in words for char in word]
    return any(
        _spells(chars[start : start + len(term)], term)
        for start in range(len(chars) - len(term) + 1)
    )


def _protected_names() -> list[str]:
    """Keys no self-registered name may contain: the brand, this server's host and the
    operator's own (LAURELS_SELF_REGISTRATION_RESERVED_NAMES)."""
    host = urlsplit(settings.LAURELS_BASE_URL).hostname or ""
    names = [BRAND, host, *settings.LAURELS_SELF_REGISTRATION_RESERVED_NAMES]
    return [key for key in map(name_key, names) if key]


def impersonation_problem(name: str) -> str | None:
    """Why `name` may pass for this server, its staff or a web address; None if it cannot.

    The rule for self-registration, kept in one place for every caller.
    """
    hidden = hidden_character(name)
    if hidden:
        return f"must not contain invisible or control characters ({hidden})."
    if WEB_ADDRESS.search(unicodedata.normalize("NFKC", name)):
        return "must not be or contain a web address, host name or email address."
    key = name_key(name)
    if not key:
        return "needs at least one letter or digit."
    words = _shapes(name)
    for protected in _protected_names():
        if protected in key or _contains_anywhere(words, protected):
            return "must not pass for this server: it names the server or its host."
    for reserved in RESERVED_WORDS:
        if _contains_run(words, reserved):
            return f"must not pass for this server's staff ({reserved!r} is reserved)."
    return None
