"""String-level parsing of numeric figures: numbers, scales, currencies, qualifiers.

No spaCy here: text is split into lexemes (digit runs, letter runs, single symbols,
with char offsets) and a small grammar matches figures over them:

    figure  := [qualifier] [between] amount [(- | – | to | and) amount]
    amount  := [currency] number [scale...] [currency [scale...]] [minor part] [percent]

Number words go through text2num; currency symbols, ISO codes and names come from
babel's CLDR data (symbols by majority over all locales, names from English).
Only small lists live here: scale words, qualifier phrases, minor units, and a few
news spellings CLDR lacks ("C$", "US$", "RMB").
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from text_to_num import text2num

SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9,
          "trillion": 1e12, "lakh": 1e5, "crore": 1e7,
          "mn": 1e6, "mln": 1e6, "bn": 1e9, "bln": 1e9, "tn": 1e12, "trn": 1e12}
GLUED_SCALES = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12, **SCALES}  # "10M", "£5bn"
FRACTIONS = {"half": 0.5, "quarter": 0.25, "quarters": 0.25, "third": 1 / 3, "thirds": 1 / 3}
QUALIFIERS = {
    "approx": ["about", "around", "roughly", "approximately", "nearly", "almost", "some",
               "an estimated", "estimated", "close to", "circa", "approx", "~", "an approximate"],
    "more_than": ["more than", "over", "above", "upwards of", "in excess of", "exceeding",
                  "greater than", "just over", "well over", "higher than", ">"],
    "less_than": ["less than", "under", "below", "fewer than", "just under", "lower than", "<"],
    "at_least": ["at least", "no less than", "no fewer than", "a minimum of", "not less than"],
    "at_most": ["at most", "no more than", "a maximum of", "not more than"],
    "up_to": ["up to", "as much as", "as many as", "as high as"],
}
_QUAL: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
for _q, _phrases in QUALIFIERS.items():
    for _p in _phrases:
        _QUAL[_p.split()[0]].append((tuple(_p.split()), _q))
for _v in _QUAL.values():
    _v.sort(key=lambda x: -len(x[0]))
PERCENT_WORDS = {"percent": "percent", "pct": "percent", "percentage": "percent"}
MINOR = {"cent": None, "cents": None, "penny": "GBP", "pence": "GBP", "p": "GBP"}
# News spellings that CLDR does not list (or lists for another currency: C$ = NIO).
ALIASES = {"C$": "CAD", "US$": "USD", "MEX$": "MXN", "U.S$": "USD", "RMB": "CNY",
           "BTC": "XBT", "BITCOIN": "XBT", "BITCOINS": "XBT", "₿": "XBT"}
# Currency-name words that are ordinary English after a number ("full marks").
NOT_GENERIC = {"mark", "marks", "real", "reals", "sol", "dram", "drams", "won", "unit", "units",
               "gold"}
RANGE_SEPS = {"-", "–", "—", "to"}
MINUS_SIGNS = {"-", "−"}             # hyphen-minus, U+2212 minus
FALLING_WORDS = {"down", "minus"}    # "down 3.2%": a negative change
# Before "from X to Y": a spread of values, not a change from one value to another.
SPREAD_WORDS = {"range", "ranges", "ranged", "ranging", "vary", "varies", "varied",
                "varying", "priced", "available", "cost", "costs", "sell", "sells"}

_LEX = re.compile(r"(?P<num>\d+(?:[.,]\d+)*)|(?P<word>[^\W\d_]+(?:['’.][^\W\d_]+)*)"
                  r"|(?P<sym>[^\s\w])")
_NUM_OK = re.compile(r"^(?:\d{1,3}(?:,\d{2,3})+|\d+)(?:\.\d+)?$")


@dataclass(slots=True)
class Lex:
    text: str
    start: int
    end: int
    kind: str          # num | word | sym
    glued: bool        # no whitespace before it
    low: str = ""

    def __post_init__(self) -> None:
        self.low = self.text.lower()


def lex(text: str, offset: int = 0) -> list[Lex]:
    """Split ``text`` into lexemes with char offsets (shifted by ``offset``)."""
    out: list[Lex] = []
    prev_end = -1
    for m in _LEX.finditer(text):
        out.append(Lex(m.group(), m.start() + offset, m.end() + offset, m.lastgroup or "sym",
                       m.start() + offset == prev_end))
        prev_end = m.end() + offset
    return out


# ---------------------------------------------------------------- currency data
def _cldr_symbol_votes() -> dict[str, dict[str, int]]:
    """symbol -> {ISO code: number of CLDR locales that write it so}."""
    from babel import Locale, localedata
    votes: dict[str, Counter] = defaultdict(Counter)
    for ident in localedata.locale_identifiers():
        try:
            syms = Locale.parse(ident).currency_symbols
        except Exception:  # noqa: BLE001 - a broken locale must not stop us
            continue
        for code, sym in syms.items():
            if sym != code and sym != "¤":
                votes[sym][code] += 1
    return {sym: dict(c) for sym, c in votes.items()}


def _symbol_votes() -> dict[str, dict[str, int]]:
    """``_cldr_symbol_votes``, kept on disk per babel version
    (``transforms.nlp.disk_cache``): reading every CLDR locale costs about a second,
    which each worker process would pay again."""
    import babel

    from transforms.nlp.disk_cache import cached_json

    return cached_json(f"cldr-currency-symbols-babel-{babel.__version__}", _cldr_symbol_votes)


@lru_cache(maxsize=1)
def _symbols() -> dict[str, tuple[str, bool]]:
    """symbol -> (ISO code, inferred): majority over every CLDR locale."""
    out = {}
    for sym, codes in _symbol_votes().items():
        (code, n), total = Counter(codes).most_common(1)[0], sum(codes.values())
        out[sym] = (code, n / total < 0.95)
    for sym, code in ALIASES.items():
        out[sym] = (code, False)
    out["$"] = ("USD", True)
    return out


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    from babel.numbers import list_currencies
    return frozenset(list_currencies()) | {"XBT"}


@lru_cache(maxsize=1)
def _names() -> tuple[dict[str, str], dict[str, tuple[str, bool]]]:
    """(full English names -> code, generic last word -> (code, inferred))."""
    from babel import Locale
    from babel.numbers import get_currency_name, get_territory_currencies
    use: Counter = Counter()
    for terr in Locale("en").territories:
        if len(terr) == 2 and terr.isalpha():
            try:
                use.update(get_territory_currencies(terr))
            except Exception:  # noqa: BLE001
                continue
    full: dict[str, str] = {}
    generic: dict[str, Counter] = defaultdict(Counter)
    for code in sorted(_codes() - {"XBT"}):  # sorted: ties resolve the same in every run
        for count in (1, 2):
            try:
                name = get_currency_name(code, count=count, locale="en").lower()
            except Exception:  # noqa: BLE001
                continue
            if "(" in name or not name:
                continue
            full.setdefault(name, code)
            # generic last words ("francs") only from plain currencies: no X-codes
            # (gold, SDR, units of account) unless in use, no long index-unit names
            if (code[0] != "X" or use[code]) and len(name.split()) <= 3 \
                    and name.split()[-1] not in NOT_GENERIC:
                generic[name.split()[-1]][code] += use[code] + 0.01
    gen = {}
    for word, c in generic.items():
        (code, _), = c.most_common(1)
        gen[word] = (code, len(c) > 1)
    for alias in ("rmb", "btc", "bitcoin", "bitcoins"):
        gen[alias] = (ALIASES[alias.upper()], False)
    return full, gen


def _stop(word: str) -> bool:
    from spacy.lang.en.stop_words import STOP_WORDS
    return word.lower() in STOP_WORDS


def _is_code(word: str, any_case: bool) -> bool:
    return ((word.isupper() or any_case) and len(word) == 3 and word.upper() in _codes()
            and not _stop(word))


# ---------------------------------------------------------------- matching
@dataclass(frozen=True, slots=True)
class CurrencyHit:
    """A currency found next to a number."""
    end: int                       # lexeme after the currency
    code: str | None               # ISO 4217 (None: bare "cents", dollar cents)
    inferred: bool                 # a guess (a bare "$", "francs")
    factor: float = 1.0            # 0.01 for minor units, 1e6 for "MEUR"


@dataclass
class Amount:
    i: int                         # first lexeme
    j: int                         # lexeme end (exclusive)
    value: float
    raw: float                     # before scale words
    scaled: bool = False
    currency: str | None = None
    inferred: bool = False
    percent: str | None = None
    minor: bool = False
    glued_scale: bool = False      # "4K", "400m": a letter scale glued to the digits
    negative: bool = False


@dataclass
class Match:
    i: int
    j: int
    value: float
    value_high: float | None = None
    currency: str | None = None
    inferred: bool = False
    percent: str | None = None
    qualifier: str | None = None
    amounts: list[Amount] = field(default_factory=list)
    qualifier_words: tuple[str, ...] = ()


# A figure's number starts at most this many lexemes after the figure's first lexeme:
# a qualifier ("no less than": 3), "between", a minus sign, a currency prefix of up
# to 3 lexemes ("HK$", "u.s $"), a doubled "$" and a sign after it ("$-12").
MAX_NUMBER_OFFSET = 10


def _starts_number(lexes: list[Lex], k: int) -> bool:
    """Whether ``Scanner.number`` can match at lexeme ``k`` (a cheap necessary test)."""
    lx = lexes[k]
    if lx.kind == "num":
        return True
    if lx.kind != "word":
        return False
    if lx.low in ("a", "an"):
        return k + 1 < len(lexes) and (lexes[k + 1].low in FRACTIONS
                                       or lexes[k + 1].low in SCALES)
    return lx.low in FRACTIONS or _word_num(lx.low) is not None


class Scanner:
    """Figure grammar over a lexeme list.

    ``local_dollar``: the ISO code a bare "$" and "dollars" mean (the source's dollar;
    None: USD). ``local_shilling``: the currency of "10,000/-" (None: not money).
    ``name_words``: upper-cased words the text uses as names, never as currency codes.
    """

    def __init__(self, lexes: list[Lex], any_case_codes: bool = True,
                 local_dollar: str | None = None, local_shilling: str | None = None,
                 name_words: frozenset[str] = frozenset()):
        self.L = lexes
        self._next_number: list[int] | None = None
        self.any_case = any_case_codes
        self.local_dollar, self.local_shilling = local_dollar, local_shilling
        self.name_words = name_words

    def next_start(self, i: int) -> int:
        """The first lexeme at or after ``i`` where a figure can start (``len(L)``:
        none): one with a number at most ``MAX_NUMBER_OFFSET`` lexemes on."""
        if self._next_number is None:
            n = len(self.L)
            nxt = [n] * (n + 1)
            for k in range(n - 1, -1, -1):
                nxt[k] = k if _starts_number(self.L, k) else nxt[k + 1]
            self._next_number = nxt
        if i >= len(self.L):
            return len(self.L)
        k = self._next_number[i]
        return k if k == len(self.L) else max(i, k - MAX_NUMBER_OFFSET)

    def _low(self, i: int) -> str:
        return self.L[i].low if 0 <= i < len(self.L) else ""

    def _glued_run(self, i: int, n: int) -> str | None:
        if i + n > len(self.L) or any(not self.L[k].glued for k in range(i + 1, i + n)):
            return None
        return "".join(self.L[k].text for k in range(i, i + n))

    # -- currency
    def _symbol(self, text: str) -> tuple[str, bool] | None:
        """ISO code and inferred flag of a currency symbol; a bare "$" is the source's
        local dollar when known (``local_dollar``), else USD, inferred either way."""
        if text == "$" and self.local_dollar:
            return self.local_dollar, True
        return _symbols().get(text)

    def currency_prefix(self, i: int) -> CurrencyHit | None:
        """Currency before a number: "$", "US$", "u.s $", "c $", "aud$", "EUR", "Rs"."""
        if i >= len(self.L):
            return None
        return (self._letters_dollar(i) or self._symbol_run(i) or self._code_word(i))

    def _letters_dollar(self, i: int) -> CurrencyHit | None:
        """Letters before a "$": "US$", "C$", "u.s $", "c $", "aud$"."""
        L, syms = self.L, _symbols()
        w = L[i]
        if not (w.kind == "word" and i + 1 < len(L) and L[i + 1].text == "$"):
            return None
        letters = w.text.upper().replace(".", "")
        spaced = L[i + 1].start - w.end == 1     # "c $ 300": only "C" or 2+ letters
        if (not L[i + 1].glued and not spaced) or (spaced and letters != "C"
                                                      and len(letters) < 2):
            return None
        for key in (w.text.upper() + "$", letters + "$"):
            if letters and key in syms:
                return CurrencyHit(i + 2, syms[key][0], False)
        if letters in _codes():
            return CurrencyHit(i + 2, letters, False)
        return None

    def _symbol_run(self, i: int) -> CurrencyHit | None:
        """A currency symbol of up to three glued lexemes: "$", "HK$", "R$", "Rs"."""
        L = self.L
        for n in (3, 2, 1):
            run = self._glued_run(i, n)
            if run is None:
                continue
            if any(L[k].kind == "sym" for k in range(i, i + n)):
                hit = self._symbol(run) or _symbols().get(run.upper())
            else:   # letter symbols, before the number only: "Rs 500", "RM 20", "kr 50"
                hit = _symbols().get(run) if n == 1 and len(run) >= 2 and not _stop(run) \
                    else None
            if hit:
                return CurrencyHit(i + n, hit[0], hit[1])
        return None

    def _code_word(self, i: int) -> CurrencyHit | None:
        """An ISO code or news alias before the number, with a space: "EUR 35", "RMB 80",
        "MAUD 60" (millions). A code glued to digits is a name ("COP29"), and so is a
        code the text uses as a word ("SDGs", "the SDG's")."""
        w = self.L[i]
        if w.kind != "word" or (i + 1 < len(self.L) and self.L[i + 1].glued):
            return None
        if w.text.upper() in self.name_words:
            return None
        if _is_code(w.text, self.any_case):
            return CurrencyHit(i + 1, w.text.upper(), False)
        if (w.text.isupper() or self.any_case) and w.text.upper() in ALIASES:
            return CurrencyHit(i + 1, ALIASES[w.text.upper()], False)
        if len(w.text) == 4 and w.text[0] in "mM" and _is_code(w.text[1:], self.any_case):
            return CurrencyHit(i + 1, w.text[1:].upper(), False, 1e6)   # "MAUD 60": millions
        return None

    def currency_suffix(self, i: int) -> CurrencyHit | None:
        """Currency after a number: a CLDR name ("Canadian dollars"), a minor unit
        ("cents", "U.S. cents", "pence"), a generic name ("francs"), a code or a symbol."""
        if i >= len(self.L):
            return None
        full, generic = _names()
        words = []
        for n in range(min(3, len(self.L) - i)):
            lx = self.L[i + n]
            if lx.kind != "word" and not (lx.text == "." and words):
                break
            words.append(lx.low.replace("u.s", "us"))
        minor = self._named_minor(i, words, full)       # "50 euro cents" before "euro"
        if minor:
            return minor
        for n in range(len(words), 0, -1):
            name = " ".join(w for w in words[:n] if w != ".")
            if name in full and words[n - 1] != ".":
                return CurrencyHit(i + n, full[name], False)
        return self._suffix_word(i) or self._suffix_symbol(i)

    def _named_minor(self, i: int, words: list[str], full: dict[str, str]) -> CurrencyHit | None:
        """"81.3 U.S. cents", "50 euro cents": a currency's minor unit named with it."""
        core = [w for w in words if w != "."]
        for n in range(len(core) - 1, 0, -1):
            if core[n] not in ("cent", "cents"):
                continue
            head = " ".join(core[:n])
            codes = {c for name, c in full.items() if name == head or name.startswith(head + " ")}
            if len(codes) == 1:
                end, seen = i, 0
                while seen <= n:                      # lexemes up to the "cents" word
                    seen += self.L[end].low != "."
                    end += 1
                return CurrencyHit(end, codes.pop(), False, 0.01)
        return None

    def _suffix_word(self, i: int) -> CurrencyHit | None:
        """"50 cents", "20p", "300 francs", "75 USD", "120 MEUR"."""
        w = self.L[i]
        if w.kind != "word":
            return None
        _, generic = _names()
        if w.low in MINOR and (w.low != "p" or (w.glued and self._pence_sized(i))):
            return CurrencyHit(i + 1, MINOR[w.low], MINOR[w.low] is None, 0.01)
        if w.low in generic:
            code, inferred = generic[w.low]
            if code == "USD" and self.local_dollar and w.low.startswith("dollar"):
                code = self.local_dollar               # "dollars" on a Canadian page
            return CurrencyHit(i + 1, code, inferred)
        if w.text.upper() in self.name_words:
            return None
        if _is_code(w.text, self.any_case):
            return CurrencyHit(i + 1, w.text.upper(), False)
        if len(w.text) == 4 and w.text[0] in "mM" and _is_code(w.text[1:], self.any_case):
            return CurrencyHit(i + 1, w.text[1:].upper(), False, 1e6)      # "120 MEUR"
        return None

    def _pence_sized(self, i: int) -> bool:
        """A glued "p" is pence only under 100 ("99p"); "1080p", "2160p" are not money."""
        try:
            return float(self.L[i - 1].text.replace(",", "")) < 100
        except ValueError:
            return False

    def _suffix_symbol(self, i: int) -> CurrencyHit | None:
        """"100₾", "100 €", "100元"; "10,000/-" (whole shillings, the source's currency)."""
        w = self.L[i]
        if w.text == "$" and i + 1 < len(self.L) and self.L[i + 1].glued \
                and self.L[i + 1].kind == "num":
            return None                       # "1 $10": the "$" belongs to the next amount
        if w.text == "/" and w.glued and self._low(i + 1) == "-" and self.L[i + 1].glued:
            if self.local_shilling:
                return CurrencyHit(i + 2, self.local_shilling, True)
            return None
        if w.kind == "sym" or not w.text.isascii():
            hit = self._symbol(w.text)
            if hit:
                return CurrencyHit(i + 1, hit[0], hit[1])
        return None

    # -- numbers
    def number(self, i: int) -> tuple[int, float] | None:
        L = self.L
        if i >= len(L):
            return None
        lx = L[i]
        if lx.kind == "num":
            if not _NUM_OK.match(lx.text):
                return None
            val = float(lx.text.replace(",", ""))
            j = i + 1
            # "2 1/2", "1/4"
            if j + 1 < len(L) and L[j].text == "/" and L[j].glued and L[j + 1].kind == "num" \
                    and L[j + 1].glued and L[j + 1].text.isdigit() \
                    and val < 100 and 1 < int(L[j + 1].text) <= 100:   # not "2016/17"
                return j + 2, val / float(L[j + 1].text)
            return j, val
        # words: "three", "forty-five", "one hundred and two", "a quarter", "two and a half"
        j, words = i, []
        while j < len(L):
            t = L[j].low
            if L[j].kind == "word" and (_word_num(t) is not None or t in FRACTIONS
                                        or (t in ("a", "an") and j + 1 < len(L)
                                            and (L[j + 1].low in FRACTIONS
                                                 or L[j + 1].low in SCALES))):
                words.append(t)
                j += 1
            elif t in ("-", "and") and words and j + 1 < len(L) and \
                    (_word_num(L[j + 1].low) is not None or L[j + 1].low in ("a", "an")):
                words.append(t)
                j += 1
            else:
                break
        while words and words[-1] in ("-", "and", "a", "an"):
            words.pop()
            j -= 1
        of_scale = self._of_a_scale(j)
        if all(w in FRACTIONS or w in ("a", "an", "and", "-") for w in words) and not (
                j < len(L) and L[j].low in SCALES) and not of_scale:
            return None                  # a bare "half" / "quarter" is not a figure
        while words:
            val = _words_value(words)
            if val is not None:
                end = i + len(words)
                if of_scale and end == j and val < 1:      # "a quarter of a million"
                    return end + 3, val * SCALES[L[end + 2].low]
                return end, val
            words.pop()
        return None

    def _of_a_scale(self, j: int) -> bool:
        """"of a million" after a fraction: "a quarter of a million", "half of a billion"."""
        return (self._low(j) == "of" and self._low(j + 1) in ("a", "an")
                and self._low(j + 2) in SCALES and self._low(j + 2) != "hundred")

    def scales(self, j: int, glued_ok: bool) -> tuple[int, float]:
        mult = 1.0
        if self._hyphen_scale(j):                 # "$250-million", "C$3-billion"
            j += 1
            glued_ok = False
            mult *= SCALES[self.L[j].low]
            j += 1
        while j < len(self.L) and self.L[j].kind == "word":
            w = self.L[j].low
            if self.L[j].glued and glued_ok and w in GLUED_SCALES:
                mult *= GLUED_SCALES[w]
            elif not self.L[j].glued and w in SCALES and w != "hundred" or w == "hundred" \
                    and not self.L[j].glued:
                mult *= SCALES[w]
            else:
                break
            glued_ok = False
            j += 1
        return j, mult

    def _hyphen_scale(self, j: int) -> bool:
        """A scale word joined by a hyphen to the digits before it: "250-million"."""
        return (j + 1 < len(self.L) and self.L[j].text == "-" and self.L[j].glued
                and self.L[j + 1].glued and self.L[j + 1].low in SCALES
                and self.L[j - 1].kind == "num")

    def _minus(self, i: int) -> bool:
        """A minus sign at ``i`` glued to the number (or "$") after it and not to a word
        or number before it: "-2.17%", "−8€", "$-12.50" (not "COVID-19", "2016-17")."""
        L = self.L
        if i + 1 >= len(L) or L[i].text not in MINUS_SIGNS or not L[i + 1].glued:
            return False
        if L[i + 1].kind != "num" and L[i + 1].text != "$":
            return False
        return not (L[i].glued and i > 0 and (L[i - 1].kind in ("num", "word")
                                              or L[i - 1].text in MINUS_SIGNS))

    def amount(self, i: int) -> Amount | None:
        start = i
        negative = self._minus(i)
        if negative:
            i += 1
        cur = self.currency_prefix(i)
        if cur:
            i = cur.end
            if i < len(self.L) and self.L[i].kind == "sym" and self.L[i].text in "$":
                i += 1                                   # "$$5" -> tolerate doubled sign
            if not negative and self._minus(i) and self.L[i].glued:
                negative, i = True, i + 1                # "$-12.50"
        num = self.number(i)
        if num is None:
            return None
        j, raw = num
        was_digit = self.L[i].kind == "num"
        glued_scale = was_digit and j < len(self.L) and self.L[j].glued \
            and self.L[j].kind == "word" and self.L[j].low in GLUED_SCALES
        j, mult = self.scales(j, glued_ok=was_digit)
        mult *= cur.factor if cur else 1.0
        amt = Amount(start, j, raw * mult, raw, mult != 1.0, glued_scale=glued_scale,
                     negative=negative)
        if cur:
            amt.currency, amt.inferred = cur.code, cur.inferred
        j = self._currency_after(j, amt, cur)
        if amt.currency and not amt.minor and not amt.scaled:
            j = self._minor_part(j, amt)
        if not amt.currency:
            j = self._percent(j, amt)
        if negative:
            amt.value = -amt.value
        amt.j = j
        return amt

    def _currency_after(self, j: int, amt: Amount, cur: CurrencyHit | None) -> int:
        """Currency (and scale) after the number; returns the lexeme after them."""
        suf = self.currency_suffix(j)
        if suf is None and self._low(j) == "-" and j + 1 < len(self.L) and self.L[j].glued \
                and self.L[j + 1].glued and not cur:
            suf = self.currency_suffix(j + 1)             # "12-cent", "one-yen"
        if not suf or (cur and not (suf.code == cur.code and suf.factor == 1.0
                                    and self.L[j].kind == "word")):
            return j
        code, inferred = suf.code, suf.inferred
        if cur:                 # "$ 10 dollars": the prefix already named it
            code, inferred = cur.code, cur.inferred
        elif code is None:      # bare cents: the source's dollar cents
            code, inferred = self.local_dollar or "USD", True
        amt.currency, amt.inferred = code, inferred
        amt.minor = suf.factor == 0.01
        j, mult2 = self.scales(suf.end, glued_ok=False)         # "75 USD million"
        amt.value *= suf.factor * mult2
        amt.scaled = amt.scaled or mult2 != 1.0
        return j

    def _minor_part(self, j: int, amt: Amount) -> int:
        """"15 dollars 50", "thirteen dollars and forty-five cents", "10 $ 30 cent"."""
        k = j + 1 if self._low(j) == "and" else j
        num = self.number(k) if k < len(self.L) and not (self.L[k].kind == "num"
                                                         and "." in self.L[k].text) else None
        if not num or k == j and self.L[j - 1].kind == "num":
            return j
        end, val = num
        if not (0 < val < 100 and val == int(val)):
            return j
        if self._low(end) in ("cent", "cents", "pence"):
            end += 1
        elif end < len(self.L) and (self.L[end].kind in ("word", "num") or self.L[end].text
                                    in ("$", "-", "%", "/")):
            return j
        amt.value += val / 100
        return end

    def _percent(self, j: int, amt: Amount) -> int:
        w = self._low(j)
        if w == "%":
            amt.percent = "percent"
            return j + 1
        if w == "per" and self._low(j + 1) == "cent":
            amt.percent = "percent"
            return j + 2
        if w in ("percentage", "percent") and self._low(j + 1) in ("point", "points"):
            amt.percent = "percentage point"
            return j + 2
        if w in PERCENT_WORDS:
            amt.percent = PERCENT_WORDS[w]
            return j + 1
        return j

    @staticmethod
    def _compatible(a: Amount, b: Amount) -> bool:
        """Two amounts can form a range: same currency/percent, or one side bare."""
        if (a.currency or a.percent) and (b.currency or b.percent):
            return a.currency == b.currency and a.percent == b.percent
        return not (a.minor or b.minor)

    def qualifier(self, i: int) -> tuple[int, str | None, tuple[str, ...]]:
        for words, q in _QUAL.get(self._low(i), ()):
            n = len(words)
            if i + n <= len(self.L) and tuple(self._low(i + k) for k in range(n)) == words:
                return i + n, q, words
        return i, None, ()

    def figure(self, i: int) -> Match | None:
        """Match a figure starting exactly at lexeme ``i``."""
        j, qual, qwords = self.qualifier(i)
        between = self._low(j) == "between"
        if between:
            j += 1
        a = self.amount(j)
        if a is None or not math.isfinite(a.value):
            return None
        m = Match(i, a.j, a.value, None, a.currency, a.inferred, a.percent, qual, [a], qwords)
        if not self._ratio(m, a):
            self._range(m, a, i, between)
        if between and m.value_high is None:
            m.i = i if qual else j      # "between" without a second value: drop the word
        self._falling(m, i)
        return m

    def _ratio(self, m: Match, a: Amount) -> bool:
        """"4 in 10 voters", "one in five": a share, as a percent (40, 20)."""
        if a.currency or a.percent or a.negative or a.scaled or self._low(a.j) != "in":
            return False
        b = self.amount(a.j + 1)
        if b is None or b.currency or b.percent or b.scaled or b.negative:
            return False
        digits = self.L[a.j + 1].text
        if not (b.value == int(b.value) and 2 <= b.value <= 1000 and 0 < a.value <= b.value):
            return False
        if digits.isdigit() and len(digits) == 4:      # "5 in 2020": a year
            return False
        m.value, m.percent, m.j = 100 * a.value / b.value, "percent", b.j
        m.amounts.append(b)
        return True

    def _range(self, m: Match, a: Amount, i: int, between: bool) -> None:
        """"$10-$20", "5 to 7 million", "between 3% and 4%" -> value, value_high."""
        sep = self._low(a.j)
        if not (sep in RANGE_SEPS or (between and sep == "and")) or self._change_from(i):
            return
        b = self.amount(a.j + 1)
        if b is None or not math.isfinite(b.value) or not self._compatible(a, b):
            return
        lo = a.value
        if not a.scaled and b.scaled:
            if a.raw > b.raw:          # "in 2023 to €3.6 million": not one range
                return
            lo = a.raw * (b.value / b.raw if b.raw else 1.0)
        if b.value > lo:
            m.value, m.value_high, m.j = lo, b.value, b.j
            m.currency = a.currency or b.currency
            m.inferred = a.inferred if a.currency else b.inferred
            m.percent = a.percent or b.percent
            m.amounts.append(b)

    def _change_from(self, i: int) -> bool:
        """"rose from $10 to $20", "from the current $154,000 to ...": a change between
        two values, not a range; but "ranges from $150 to $200" is a range."""
        for k in range(i - 1, max(i - 4, -1), -1):
            if self.L[k].kind != "word":
                return False
            if self.L[k].low == "from":
                return not any(self._low(n) in SPREAD_WORDS for n in range(k - 3, k))
        return False

    def _falling(self, m: Match, i: int) -> None:
        """"down 3.2%", "minus 5": a negative change."""
        word = self._low(i - 1)
        if word not in FALLING_WORDS or m.qualifier or m.value < 0:
            return
        if word == "down" and not m.percent:
            return
        m.value, m.value_high = (-m.value, None) if m.value_high is None \
            else (-m.value_high, -m.value)


@lru_cache(maxsize=4096)
@lru_cache(maxsize=1 << 16)
def _word_num(word: str) -> float | None:
    if word in ("a", "an", "and", "-", "point") or word.endswith("s"):
        return None                      # "hundreds", "thousands": vague, not figures
    try:
        return float(text2num(word, "en"))
    except Exception:  # noqa: BLE001 - text2num raises ValueError and others
        return None


def _words_value(words: list[str]) -> float | None:
    """Value of a number-word sequence, with fractions and trailing scales."""
    if not words:
        return None
    if all(w not in FRACTIONS and w not in ("a", "an") for w in words):
        try:
            return float(text2num(" ".join(words).replace(" - ", "-"), "en"))
        except Exception:  # noqa: BLE001
            pass
    # fractions: "a quarter", "three quarters", "two and a half", "half"
    core = [w for w in words if w != "-"]
    if core[-1] in SCALES and len(core) > 1:
        head = core[:-1]
        if len(head) > 1 and head[-1] in ("a", "an") and head[-2] in FRACTIONS:
            head = head[:-1]                      # "half a million"
        inner = _words_value(head)
        return None if inner is None else inner * SCALES[core[-1]]
    if core[-1] in FRACTIONS:
        frac = FRACTIONS[core[-1]]
        head = core[:-1]
        if head and head[-1] in ("a", "an"):
            head = head[:-1]
            whole = 0.0
            if head and head[-1] == "and":
                w = _words_value(head[:-1])
                if w is None:
                    return None
                whole, head = w, []
            if head:
                return None
            return whole + frac
        if not head:
            return frac
        n = _words_value(head)
        return None if n is None else n * frac
    return None


def parse_money(text: str) -> dict | None:
    """Parse a money expression ("about $ 13.18 billion", "£1.5bn", "two million
    euros", "$10-$20"). -> {value, value_high, unit, currency_inferred, qualifier}
    or None when no money amount is found. Never raises."""
    try:
        return _parse_money(text)
    except Exception:  # noqa: BLE001 - arbitrary input must never raise
        return None


def _parse_money(text: str) -> dict | None:
    sc = Scanner(lex(text), any_case_codes=True)
    for i in range(len(sc.L)):
        m = sc.figure(i)
        if m and m.currency:
            return {"value": m.value, "value_high": m.value_high, "unit": m.currency,
                    "currency_inferred": m.inferred, "qualifier": m.qualifier}
    return None
