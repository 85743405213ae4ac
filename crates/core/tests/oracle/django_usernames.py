"""Writes tests/fixtures/django_usernames.tsv: what Django itself says about usernames, for
tests/django_usernames.rs to hold Latchkey's rule against.

Run from the repository root with a Python that has the pinned Django (requirements.txt here):

    python crates/core/tests/oracle/django_usernames.py > crates/core/tests/fixtures/django_usernames.tsv

Django is the oracle, not a regex copied from it: the username field's own `clean` (the
`UnicodeUsernameValidator`, max_length=150, blank=False) and, for creation, the `UsernameField`
form field's NFKC step. Its `\\w` is Python's `re`, so the verdicts belong to the Unicode version
of the Python that ran this script; the fixture records it, and marks the code points that
version has not assigned, for the test to tell a newer Unicode apart from a disagreement.

Lines (tab-separated):
    python / unicode / django   VERSION
    accept      FIRST LAST      code points (hex) that are one-character usernames, inclusive
    unassigned  FIRST LAST      code points this Python's Unicode has not assigned (category Cn)
    nfkc        CP  CPS         an assigned code point that NFKC changes, and what it becomes
    case        JSON
        [string, valid, created]: valid is whether the model field accepts the string as given;
        created is what a creation stores (NFKC, unless it is over 150 characters, as
        UsernameField does), or null when that is refused.
"""

import json
import platform
import random
import sys
import unicodedata

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    USE_I18N=False,
)
django.setup()

from django.contrib.auth.forms import UsernameField  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402

FIELD = User._meta.get_field("username")
# strip=False: Latchkey refuses surrounding spaces rather than trimming them, as the model does.
FORM_FIELD = UsernameField(max_length=FIELD.max_length, strip=False)


def valid(s):
    try:
        FIELD.clean(s, None)
        return True
    except ValidationError:
        return False


def created(s):
    normalized = FORM_FIELD.to_python(s)
    return normalized if valid(normalized) else None


def code_points():
    return (cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)


def ranges(predicate):
    start = prev = None
    for cp in code_points():
        if predicate(cp):
            if start is not None and cp == prev + 1:
                prev = cp
                continue
            if start is not None:
                yield start, prev
            start = prev = cp
    if start is not None:
        yield start, prev


def hexes(s):
    return " ".join("%04X" % ord(c) for c in s)


# Characters that make the interesting cases: each rule's edge, scripts, and what NFKC changes.
# WORDISH are accepted as given or once NFKC has run; OTHER are refused either way, or change
# into something refused.
WORDISH = (
    list("abcXYZ019._@+-")
    + list("éÉßøÅñçİıǅªº")  # Latin letters, a titlecase one, ordinal indicators
    + list("李雷王中文ひらカナ한국")
    + ["\u1100", "\u1161", "\u11a8"]  # conjoining jamo: NFKC composes them into one syllable
    + list("ΟΔΟΣσςАяЖ")
    + list("٣४߀")  # Arabic-Indic, Devanagari, NKo digits
    + list("ｊｏＨＮ１＠．")  # fullwidth forms
    + list("ﬁﬀ²①ⅫⅩ\u2126\u212a")  # ligatures, numbers of every kind, Ohm and Kelvin signs
    + ["\U0001d49c", "\U0001d7d8", "\U00020000"]  # math letter and digit, CJK Extension B
)
OTHER = (
    list(" ;\n\t/\\'\"½")
    + ["\u0301", "\u0308", "\u093f", "\u094d", "\u0345"]  # combining marks (Mn, Mc)
    + ["\u24b6", "\U0001f130", "\U0001f600"]  # circled and squared A (alphabetic, not letters), emoji
    + ["\ufdfa", "\u00a0", "\u200d", "\u2028", "\u0000", "\u00ad"]  # long NFKC, NBSP, ZWJ, LS, NUL, SHY
)


def cases():
    fixed = [
        "",
        "alice",
        "alice.b+c@x-y_z",
        "José.Admin",
        "Jose\u0301.Admin",
        "李雷",
        "ｊｏｈｎ",
        "josé",
        "JOSÉ",
        "hindi\u093f",
        "\u0939\u093f\u0928\u094d\u0926\u0940",
        "\u24b6",
        "x\n",
        "\nx",
        " alice",
        "a b",
        "\ufdfa",
        "\ufdfa" * 9,
        "a" * 150,
        "a" * 151,
        "é" * 150,
        "e\u0301" * 75,
        "e\u0301" * 76,
        "李" * 150,
        "李" * 151,
        "\U0001d49c" * 150,
        "\U0001f600",
        "ﬁ" * 75,
        "ﬁ" * 76,
        "\u1100\u1161" * 100,
    ]
    rng = random.Random(20240521)
    drawn = []
    for _ in range(600):
        n = rng.choice([1, 2, 3, 5, 8, 13, 20, 40, 75, 149, 150, 151, 152])
        # Mostly wordish, so that long strings are not all refused for their first odd character.
        odd = rng.choice([0.0, 0.01, 0.1, 0.5])
        pick = lambda: rng.choice(OTHER if rng.random() < odd else WORDISH)  # noqa: E731
        drawn.append("".join(pick() for _ in range(n)))
    # Code points from every plane, as whole usernames and inside one. Only assigned ones (and
    # noncharacters, which stay unassigned for good): a newer Unicode may make a letter of an
    # unassigned one, and the per-code-point lines already cover those.
    while len(drawn) < 1400:
        c = chr(rng.randrange(0x110000))
        if unicodedata.category(c) not in ("Cn", "Cs"):
            drawn.append(c)
            drawn.append("a" + c + "b")
    drawn += ["\ufdd0", "\uffff", "\U0010ffff", "a\ufffeb"]
    return fixed + drawn


def main():
    out = sys.stdout
    out.write("# Generated by crates/core/tests/oracle/django_usernames.py; do not edit.\n")
    out.write("python\t%s\n" % platform.python_version())
    out.write("unicode\t%s\n" % unicodedata.unidata_version)
    out.write("django\t%s\n" % django.get_version())
    for first, last in ranges(lambda cp: valid(chr(cp))):
        out.write("accept\t%04X\t%04X\n" % (first, last))
    for first, last in ranges(lambda cp: unicodedata.category(chr(cp)) == "Cn"):
        out.write("unassigned\t%04X\t%04X\n" % (first, last))
    for cp in code_points():
        c = chr(cp)
        if unicodedata.category(c) != "Cn":
            n = unicodedata.normalize("NFKC", c)
            if n != c:
                out.write("nfkc\t%04X\t%s\n" % (cp, hexes(n)))
    for s in cases():
        out.write("case\t%s\n" % json.dumps([s, valid(s), created(s)], ensure_ascii=False))


if __name__ == "__main__":
    main()
