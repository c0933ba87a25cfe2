"""Braze's code lists (countries, languages, currencies, genders) and how people write them.

Country, language and currency codes come from ``pycountry`` (ISO 3166-1, 639-1, 4217); the
spellings people type that ISO does not list (``UK``, ``Brasil``, ``português``) are added here.
"""

from functools import cache

import pycountry

GENDERS = {
    "M": ("m", "male", "man", "masculino", "homem", "hombre", "homme", "männlich"),
    "F": ("f", "female", "woman", "feminino", "mulher", "mujer", "femme", "weiblich"),
    "O": ("o", "other", "non-binary", "nonbinary", "non binary", "nb", "outro", "otro", "autre"),
    "N": ("n", "not applicable", "n/a", "na", "none"),
    "P": ("p", "prefer not to say", "prefer not to answer", "rather not say", "undisclosed"),
}
GENDER_CODES = frozenset(GENDERS)

_COUNTRY_ALIASES = {
    "uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "great britain": "GB",
    "usa": "US", "america": "US", "united states of america": "US", "u.s.": "US", "u.s.a.": "US",
    "brasil": "BR", "deutschland": "DE", "españa": "ES", "espana": "ES", "méxico": "MX",
    "russia": "RU", "south korea": "KR", "korea": "KR", "vietnam": "VN", "holland": "NL",
    "czech republic": "CZ", "turkey": "TR", "iran": "IR", "syria": "SY", "bolivia": "BO",
    "venezuela": "VE", "tanzania": "TZ", "taiwan": "TW", "laos": "LA", "moldova": "MD",
}  # fmt: skip

_LANGUAGE_ALIASES = {
    "português": "pt", "portugues": "pt", "español": "es", "espanol": "es", "castellano": "es",
    "français": "fr", "francais": "fr", "deutsch": "de", "italiano": "it", "nederlands": "nl",
    "polski": "pl", "русский": "ru", "日本語": "ja", "中文": "zh", "chinese": "zh",
    "mandarin": "zh", "한국어": "ko", "türkçe": "tr", "svenska": "sv", "norsk": "no",
}  # fmt: skip


@cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def language_codes() -> frozenset[str]:
    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


@cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            if hasattr(country, attr):
                names[getattr(country, attr).lower()] = country.alpha_2
    return {**names, **_COUNTRY_ALIASES}


@cache
def _language_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in pycountry.languages:
        if not hasattr(lang, "alpha_2"):
            continue
        for attr in ("alpha_2", "alpha_3", "bibliographic", "name", "common_name"):
            if hasattr(lang, attr):
                names[getattr(lang, attr).lower()] = lang.alpha_2
    return {**names, **_LANGUAGE_ALIASES}


@cache
def _gender_names() -> dict[str, str]:
    return {spelling: code for code, spellings in GENDERS.items() for spelling in spellings}


def gender(text: str) -> str | None:
    return _gender_names().get(" ".join(text.lower().split()))


def country(text: str) -> str | None:
    return _country_names().get(" ".join(text.lower().split()))


def language(text: str) -> str | None:
    """``en``, ``English``, ``eng``, ``pt-BR``, ``pt_BR`` -> the ISO-639-1 code."""
    key = " ".join(text.lower().split())
    found = _language_names().get(key)
    if found is None and len(key) > 3 and key[2] in "-_":
        found = _language_names().get(key[:2])
    return found
