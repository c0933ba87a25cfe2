"""Benchmark: the mapping engine against a hand-written function, same records, same run.

    .venv/bin/python bench/mapping_engine.py            # 100,000 records, 5 rounds
    .venv/bin/python bench/mapping_engine.py --smoke    # 300 records, 1 round, docs untouched

Generates realistic conversations (nested answers, unicode names, dates and phone numbers typed
by people, optional fields missing, some values unusable), checks that the engine (a 20-row
mapping) and a hand-written function produce identical payloads for every record, then times
both alternately after a warm-up and reports medians, records/s and the ratio. Rewrites its
section of docs/benchmarks.md unless --no-docs (or --smoke).
"""

import argparse
import random
import re
import statistics
import sys
import time
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report
from mappings.engine import codes
from mappings.engine.datetimes import DateParseError, iso_utc, parse_date, parse_datetime
from mappings.engine.mapping import compile_mapping
from mappings.engine.spec import MappingSpec, RowSpec

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
START, END = "<!-- mapping-engine:start -->", "<!-- mapping-engine:end -->"

CONTACT = {"whatsapp": "whatsapp", "e-mail": "email", "email": "email", "phone": "phone"}
NEWSLETTER = {"yes": "opted_in", "sim": "opted_in", "no": "unsubscribed", "não": "unsubscribed"}
SAO_PAULO = zoneinfo.ZoneInfo("America/Sao_Paulo")

SPEC = MappingSpec(
    identifier_path="user.id",
    on_problem="drop_field",
    rows=(
        RowSpec("user.profile.first_name", "first_name", transforms=("trim",)),
        RowSpec("user.profile.last_name", "last_name", transforms=("trim",)),
        RowSpec("user.profile.email", "email", transforms=("trim", "lower")),
        RowSpec("user.profile.phone", "phone", transforms=({"name": "phone", "region": "BR"},)),
        RowSpec("user.profile.birthday", "dob", transforms=({"name": "dob", "order": "DMY"},)),
        RowSpec("user.profile.gender", "gender", transforms=("gender",)),
        RowSpec("user.profile.country", "country", transforms=("country",)),
        RowSpec("user.profile.language", "language", transforms=("language",)),
        RowSpec("user.profile.city", "home_city", transforms=("trim",)),
        RowSpec("session.answers[0].value", "bot_interest", transforms=("trim", "lower")),
        RowSpec("session.answers[1].value", "preferred_contact",
                transforms=("trim", {"name": "lookup", "table": CONTACT, "otherwise": "skip"})),
        RowSpec("session.answers[2].value", "household_size", transforms=("int",)),
        RowSpec("session.answers[3].value", "email_subscribe",
                transforms=("trim", {"name": "lookup", "table": NEWSLETTER, "otherwise": "skip"})),
        RowSpec("{user.profile.first_name} {user.profile.last_name}", "full_name",
                source_type="template"),
        RowSpec("1", "conversations", source_type="constant", transforms=("int",),
                operation="increment"),
        RowSpec("session.tags", "bot_tags", operation="add"),
        RowSpec("bot_conversation_completed", "events[0].name", source_type="constant"),
        RowSpec("session.ended_at", "events[0].time",
                transforms=({"name": "datetime", "timezone": "America/Sao_Paulo"},)),
        RowSpec("session.channel", "events[0].properties.channel"),
        RowSpec("session.answers[0].value", "events[0].properties.interest",
                transforms=("trim", "lower")),
    ),
)  # fmt: skip

# -- realistic data -----------------------------------------------------------------------------

FIRST = ["Ana", "João", "Zoë", "Søren", "Łukasz", "Chloé", "Renée", "José", "María", "Björn",
         "Ngozi", "Aiko", "Mateus", "Priya", "Oğuz", "Dmitri"]  # fmt: skip
LAST = ["Souza", "Müller", "García", "Nakamura", "O'Brien", "Kowalski", "da Silva", "Ødegård",
        "Nguyễn", "Smith", "Çelik"]  # fmt: skip
CITIES = ["São Paulo", " Zürich", "Kraków ", "Lisboa", "Rio de Janeiro", "München", "Tōkyō"]
GENDERS = ["female", "Masculino", "F", "m", "other", "Prefer not to say", "unicorn"]
COUNTRIES = ["Brasil", "BR", "Brazil", "Portugal", "usa", "Deutschland", "PT", "Atlantis"]
LANGUAGES = ["pt-BR", "Portuguese", "en", "español", "de_DE", "klingon"]
INTERESTS = ["Travel Insurance", " car insurance", "HOME", "pet insurance "]
CONTACTS = ["WhatsApp", "e-mail", "phone", "carrier pigeon"]
CHANNELS = ["web", "whatsapp", "app"]


def _phone(rng: random.Random) -> str:
    digits = f"9{rng.randint(6, 9)}{rng.randint(0, 9_999_999):07d}"
    return rng.choice([
        f"+55 11 {digits[:5]}-{digits[5:]}", f"(11) {digits[:5]}-{digits[5:]}",
        f"11{digits}", f"+5521{digits}", "12345", "n/a",
    ])  # fmt: skip


def _birthday(rng: random.Random) -> str:
    year, month, day = rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([
        f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}",
        f"{day} {['January', 'March', 'April', 'July', 'October'][month % 5]} {year}",
        f"{day}.{month}.{year % 100:02d}", "31/02/1990", "ontem",
    ])  # fmt: skip


def _ended_at(rng: random.Random) -> object:
    day, hour, minute = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
    clock = f"{hour:02d}:{minute:02d}"
    return rng.choice([
        f"2026-11-{day:02d}T{clock}:00Z", f"{day:02d}/11/2026 {clock}",
        1795169700 + rng.randint(0, 10**6), f"2026-11-{day:02d}T{clock}:00-03:00",
    ])  # fmt: skip


def _maybe(rng: random.Random, value: object, present: float = 0.85) -> dict:
    return value if rng.random() < present else None


def record(rng: random.Random, index: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    profile = {
        "first_name": rng.choice([first, f" {first} "]),
        "last_name": _maybe(rng, last, 0.8),
        "email": _maybe(rng, f" {first}.{last.replace(' ', '')}{index}@Example.com", 0.9),
        "phone": _maybe(rng, _phone(rng)),
        "birthday": _maybe(rng, _birthday(rng), 0.7),
        "gender": _maybe(rng, rng.choice(GENDERS), 0.6),
        "country": _maybe(rng, rng.choice(COUNTRIES)),
        "language": _maybe(rng, rng.choice(LANGUAGES), 0.7),
        "city": _maybe(rng, rng.choice(CITIES)),
    }
    answers = [
        {"q": "interest", "value": rng.choice(INTERESTS)},
        {"q": "contact", "value": rng.choice(CONTACTS)},
        {"q": "household", "value": rng.choice(["2", "4", 3, "three", "1"])},
        {"q": "newsletter", "value": rng.choice(["yes", "Não", "maybe", "sim"])},
    ][: rng.choice([2, 3, 4, 4, 4])]
    return {
        "user": {"id": f"user-{index}", "profile": {k: v for k, v in profile.items() if v}},
        "session": {
            "id": f"s-{index}",
            "channel": rng.choice(CHANNELS),
            "answers": answers,
            "tags": rng.sample(["vip", "returning", "mobile", "promo"], rng.randint(0, 2)),
            "ended_at": _ended_at(rng),
        },
    }


# -- the hand-written baseline ------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def _text(value):
    """Trimmed text, or None when blank or not text (what the engine's trim + empty does)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _code(value, lookup):
    if not isinstance(value, str) or not value.strip():
        return None
    return lookup(value.strip())


def _lookup(value, table):
    value = _text(value)
    return table.get(value.casefold()) if isinstance(value, str) else None


def _phone_e164(value):
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value.strip(), "BR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _answer(answers, index):
    return answers[index].get("value") if len(answers) > index else None


def _household(value):
    if isinstance(value, int):
        return value
    try:
        number = float(value.strip())
    except (AttributeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def hand_written(conversation: dict) -> dict | None:
    user = conversation.get("user", {})
    external_id = user.get("id")
    if not isinstance(external_id, str) or not external_id:
        return None
    profile, session = user.get("profile", {}), conversation.get("session", {})
    answers = session.get("answers", [])
    attributes = {"external_id": external_id}
    first, last = _text(profile.get("first_name")), _text(profile.get("last_name"))
    email = _text(profile.get("email"))
    values = {
        "first_name": first,
        "last_name": last,
        "email": email.lower() if email else None,
        "phone": _phone_e164(profile.get("phone")),
        "dob": _dob(profile.get("birthday")),
        "gender": _code(profile.get("gender"), codes.gender),
        "country": _code(profile.get("country"), codes.country),
        "language": _code(profile.get("language"), codes.language),
        "home_city": _text(profile.get("city")),
        "bot_interest": _lower(_answer(answers, 0)),
        "preferred_contact": _lookup(_answer(answers, 1), CONTACT),
        "household_size": _household(_answer(answers, 2)),
        "email_subscribe": _lookup(_answer(answers, 3), NEWSLETTER),
        "full_name": _full_name(profile),
        "conversations": {"inc": 1},
        "bot_tags": {"add": list(dict.fromkeys(session["tags"]))} if session.get("tags") else None,
    }
    attributes.update((key, value) for key, value in values.items() if value is not None)
    event = {"external_id": external_id, "name": "bot_conversation_completed"}
    event["time"] = _event_time(session.get("ended_at"))
    properties = {"channel": session.get("channel"), "interest": _lower(_answer(answers, 0))}
    event["properties"] = {key: value for key, value in properties.items() if value}
    return {"attributes": [attributes], "events": [event]}


def _lower(value):
    value = _text(value)
    return value.lower() if isinstance(value, str) else value


def _dob(value):
    if not value:
        return None
    try:
        return parse_date(value, "DMY").isoformat()
    except DateParseError:
        return None


def _event_time(value):
    try:
        return iso_utc(parse_datetime(value, "DMY", SAO_PAULO))
    except DateParseError:
        return NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


def _full_name(profile):
    parts = [part for part in (profile.get("first_name"), profile.get("last_name")) if part]
    return _SPACES.sub(" ", " ".join(parts)).strip() or None


# -- timing -------------------------------------------------------------------------------------


def engine_function():
    compiled = compile_mapping(SPEC)

    def run(conversation):
        result = compiled.run(conversation, now=NOW)
        return result.payload if result.ok else None

    return run


def check_identical(records, engine, baseline) -> None:
    for index, conversation in enumerate(records):
        ours, theirs = engine(conversation), baseline(conversation)
        if ours != theirs:
            raise SystemExit(f"record {index} differs:\nengine: {ours}\nhand:   {theirs}")


def timed(function, records) -> float:
    start = time.perf_counter()
    for conversation in records:
        function(conversation)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = report.parse_args(parser, {"records": 300, "rounds": 1}, argv)
    rng = random.Random(20261123)
    records = [record(rng, index) for index in range(args.records)]
    engine, baseline = engine_function(), hand_written
    check_identical(records, engine, baseline)
    timed(engine, records[:2000]), timed(baseline, records[:2000])  # warm-up
    engine_times, baseline_times = [], []
    for _ in range(args.rounds):  # alternate, so machine noise hits both alike
        baseline_times.append(timed(baseline, records))
        engine_times.append(timed(engine, records))
    figures = {
        "records": args.records,
        "rounds": args.rounds,
        "engine_s": statistics.median(engine_times),
        "baseline_s": statistics.median(baseline_times),
    }
    figures["ratio"] = figures["engine_s"] / figures["baseline_s"]
    print_table(figures)
    if not args.no_docs:
        write_docs(figures)
    return figures


def print_table(figures: dict) -> None:
    n = figures["records"]
    print(f"{n} records, 20-row mapping, median of {figures['rounds']} rounds")
    print(f"{'':14}{'seconds':>10}{'records/s':>12}")
    for label, key in (("engine", "engine_s"), ("hand-written", "baseline_s")):
        print(f"{label:14}{figures[key]:>10.3f}{n / figures[key]:>12,.0f}")
    print(f"ratio engine / hand-written: {figures['ratio']:.2f}x (goal <= 2x)")


def write_docs(figures: dict) -> None:
    n, engine, baseline = figures["records"], figures["engine_s"], figures["baseline_s"]
    section = f"""## Mapping engine vs a hand-written function

`.venv/bin/python bench/mapping_engine.py` (last run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC;
{report.machine(database=False)}; no database: the engine is pure).

{n:,} generated conversations (nested answers, unicode names, human dates, local phone
numbers, optional fields missing, some unusable values), a 20-row mapping (nested paths, a
template, dob and datetime parsing, E.164 phones, gender/country/language codes, lookups, an
increment, an array add, a custom event with properties; `drop_field` policy). Both sides
produce identical payloads for every record (checked before timing). Median of
{figures["rounds"]} alternating rounds after a warm-up.

| | seconds | records/s |
|---|---:|---:|
| engine (`compile_mapping(spec).run`) | {engine:.2f} | {n / engine:,.0f} |
| hand-written function | {baseline:.2f} | {n / baseline:,.0f} |

**Ratio: {figures["ratio"]:.2f}x** (goal: at most 2x).

What limits it: one CPU core (single-threaded, pure Python). Both sides spend most of their time
in the same libraries (phonenumbers parsing, date parsing, code lookups); the engine's own cost
is the per-row loop, empty/problem bookkeeping and Braze value checks the hand-written function
skips. It scales linearly with records and rows, and across processes (gunicorn workers).
"""
    report.write_section(START, END, section)


if __name__ == "__main__":
    main()
