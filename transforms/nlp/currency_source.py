"""Which dollar a bare "$" means, from the article's source and its own text.

A bare "$" is USD on a US page but CAD on a Canadian outlet, AUD on an Australian one,
MXN on a Mexican one. Evidence, strongest first:

1. the text names one dollar-sign currency and no other ("Canadian dollars", "C$", "A$");
2. the host's country-code TLD (``.ca``, ``.com.au``, ``.co.nz``);
3. a country named in the sitename ("... Canada");
4. the text names one country much more than any other dollar-sign country.

A country's currency comes from CLDR (babel's territory currencies), and it is a
dollar-sign currency when CLDR writes it "$" in that country's own locales. The
result is a guess: figures keep ``currency_inferred = true``. "10,000/-" is the
shilling of the source's country when that country's currency is a shilling.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

MIN_PLACE_MENTIONS = 3     # step 4: this many mentions of one country ...
PLACE_MARGIN = 3           # ... and this many times more than any other dollar country
_TLD_TERRITORY = {"uk": "GB"}   # the one ccTLD that is not its ISO 3166 code


@dataclass(frozen=True, slots=True)
class SourceCurrency:
    dollar: str | None = None      # what a bare "$" / "dollars" means (None: USD)
    shilling: str | None = None    # what "10,000/-" means (None: not money)
    territory: str | None = None   # ISO 3166 country the evidence points at


@lru_cache(maxsize=None)
def territory_currency(territory: str) -> str | None:
    """The territory's current legal tender (CLDR), or None."""
    from babel.numbers import get_territory_currencies
    try:
        codes = get_territory_currencies(territory, tender=True)
    except Exception:  # noqa: BLE001 - unknown territory
        return None
    return codes[0] if codes else None


@lru_cache(maxsize=None)
def writes_dollar_sign(territory: str, code: str) -> bool:
    """Whether the territory's own locales write ``code`` with a dollar sign."""
    from babel import Locale, localedata
    from babel.numbers import get_currency_symbol
    for ident in localedata.locale_identifiers():
        if not ident.endswith("_" + territory):
            continue
        try:
            if get_currency_symbol(code, locale=Locale.parse(ident)).endswith("$"):
                return True                        # "$", or "HK$" at home
        except Exception:  # noqa: BLE001 - a broken locale must not stop us
            continue
    return False


def dollar_of(territory: str | None) -> str | None:
    """The currency a bare "$" means in ``territory``, if it writes one so."""
    return _dollar_territories().get(territory) if territory else None


@lru_cache(maxsize=1)
def _dollar_territories() -> dict[str, str]:
    """Every territory whose currency its own locales write with a dollar sign, with
    that currency; kept on disk per babel version and per source of this module
    (``transforms.nlp.disk_cache``): asking CLDR's 700 locales costs 2 s of CPU, which
    each worker process (and every run) would pay again."""
    import babel

    from transforms.nlp.disk_cache import cached_json, source_digest

    return cached_json(f"dollar-territories-{babel.__version__}-{source_digest(__file__)}",
                       _build_dollar_territories)


def _build_dollar_territories() -> dict[str, str]:
    out = {}
    for territory in sorted(set(_territory_names().values())):
        code = territory_currency(territory)
        if code and writes_dollar_sign(territory, code):
            out[territory] = code
    return out


@lru_cache(maxsize=None)
def _is_shilling(code: str) -> bool:
    from babel.numbers import get_currency_name
    return "shilling" in get_currency_name(code, locale="en").lower()


@lru_cache(maxsize=1)
def _territory_names() -> dict[str, str]:
    """English CLDR country names -> ISO 3166 code (two-letter territories only)."""
    from babel import Locale
    return {name: code for code, name in Locale("en").territories.items()
            if len(code) == 2 and code.isalpha() and code != "ZZ"}


@lru_cache(maxsize=1)
def _dollar_mentions() -> list[tuple[re.Pattern, str, str, bool]]:
    """Patterns of explicitly named dollar-sign currencies: "Canadian dollars", "C$",
    each with what a text holds wherever the pattern matches (the name lower-cased,
    or the sign as written) and whether that is to be looked for lower-cased."""
    from transforms.nlp.numbers import _names, _symbols
    full, _ = _names()
    out = []
    for name, code in full.items():
        if name.split()[-1] in ("dollar", "dollars") and len(name.split()) > 1:
            out.append((re.compile(r"\b" + re.escape(name) + r"\b", re.I), code,
                        name.lower(), True))
    for sym, (code, inferred) in _symbols().items():
        if sym.endswith("$") and len(sym) > 1 and not inferred:
            out.append((re.compile(r"(?<![\w$])" + re.escape(sym) + r"\s?\d"), code, sym, False))
    return out


def territory_of_host(hostname: str | None) -> str | None:
    """ISO 3166 code of the host's country-code TLD ("www.cbc.ca" -> "CA")."""
    if not hostname:
        return None
    tld = hostname.rstrip(".").rsplit(".", 1)[-1].lower()
    code = _TLD_TERRITORY.get(tld, tld.upper())
    return code if len(tld) == 2 and code in dict.fromkeys(_territory_names().values()) else None


def territory_in(name: str | None) -> str | None:
    """A country named in a sitename ("Daily News Canada" -> "CA"), if exactly one."""
    if not name:
        return None
    found = {code for country, code in _territory_names().items()
             if re.search(r"\b" + re.escape(country) + r"\b", name)}
    return found.pop() if len(found) == 1 else None


def named_dollar(text: str) -> str | None:
    """The one dollar-sign currency the text names explicitly (US dollars count)."""
    named = Counter()
    low = text.lower()
    if "dollar" not in low and "$" not in text:
        return None
    for pattern, code, needle, lowered in _dollar_mentions():
        if needle in (low if lowered else text) and pattern.search(text):
            named[code] += 1
    return next(iter(named)) if len(named) == 1 else None


def most_named_country(text: str) -> str | None:
    """The dollar-sign country the text names far more often than any other."""
    counts = Counter()
    for country, code in _territory_names().items():
        if dollar_of(code) is None and code != "US":
            continue
        n = len(re.findall(r"\b" + re.escape(country) + r"\b", text)) if country in text else 0
        if code == "US":
            n += len(re.findall(r"\bU\.S\.|\bUS\b", text))
        if n:
            counts[code] += n
    if not counts:
        return None
    (top, n), *rest = counts.most_common()
    runner_up = rest[0][1] if rest else 0
    return top if n >= MIN_PLACE_MENTIONS and n >= PLACE_MARGIN * runner_up else None


def source_currency(text: str, hostname: str | None = None,
                    sitename: str | None = None) -> SourceCurrency:
    """The local dollar and shilling for an article (see the module docstring)."""
    territory = territory_of_host(hostname) or territory_in(sitename)
    explicit = named_dollar(text)
    if territory is None:
        territory = most_named_country(text)
    dollar = explicit or dollar_of(territory)
    local = territory_currency(territory) if territory else None
    shilling = local if local and _is_shilling(local) else None
    return SourceCurrency(None if dollar == "USD" else dollar, shilling, territory)
