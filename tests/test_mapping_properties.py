"""Property tests: whatever JSON arrives, the engine answers, and what it sends Braze accepts.

The oracle is the fake Braze's own rules (mappings/fake_braze/rules.py), written independently
of the engine from Braze's documented rules (docs/braze.md).
"""

from datetime import UTC, datetime

import jmespath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.engine.mapping import build_payload, compile_mapping
from mappings.engine.sources import compile_path
from mappings.engine.spec import MappingSpec, RowSpec
from mappings.fake_braze import rules

KEYS = ["a", "b", "name", "dob", "phone", "tags", "when", "n"]  # paths below hit these
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["12/04/1990", "+1 415 555 2671", "Brazil", "female", "yes", "pt-BR", "7"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=25,
)
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)

ROWS = (
    RowSpec("a", "first_name", transforms=("trim",)),
    RowSpec("b.name", "last_name"),
    RowSpec("dob", "dob", transforms=({"name": "dob"},)),
    RowSpec("phone", "phone", transforms=({"name": "phone", "region": "US"},)),
    RowSpec("name", "country", transforms=("country",)),
    RowSpec("name", "language", transforms=("language",)),
    RowSpec("a", "gender", transforms=("gender",)),
    RowSpec("b", "email", transforms=("trim", "lower")),
    RowSpec("when", "date_of_last_session", transforms=("datetime",)),
    RowSpec("{a} {b.name}", "full_name", source_type="template"),
    RowSpec("b", "profile"),
    RowSpec("b", "profile_merge", operation="merge"),
    RowSpec("tags", "tags"),
    RowSpec("tags", "tags_added", operation="add"),
    RowSpec("n", "visits", operation="increment", transforms=("int",)),
    RowSpec("n", "score", transforms=("float",)),
    RowSpec("a", "subscribed", transforms=("bool",)),
    RowSpec("when", "renewal", transforms=("date",)),
    RowSpec("a", "events[0].name"),
    RowSpec("when", "events[0].time", transforms=("datetime",)),
    RowSpec("b", "events[0].properties.detail"),
    RowSpec("tags[0]", "events[0].properties.first_tag"),
    RowSpec("name", "purchases[0].product_id", transforms=("string",)),
    RowSpec("b.name", "purchases[0].currency", transforms=("upper",)),
    RowSpec("n", "purchases[0].price", transforms=("float",)),
    RowSpec("n", "purchases[0].quantity", transforms=("int",)),
)
POLICIES = [
    MappingSpec("a", ROWS),
    MappingSpec("a", ROWS, on_problem="drop_field"),
    MappingSpec("b", ROWS[:7] + ROWS[8:], identifier_type="email", on_problem="drop_field"),
    MappingSpec("a", ROWS, identifier_type="user_alias", alias_label="bot", partner="bridge"),
]
COMPILED = [compile_mapping(spec) for spec in POLICIES]
NOW = datetime(2026, 11, 20, tzinfo=UTC)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(document=json_values)
def test_any_json_at_all_gives_a_result_not_an_exception(document):
    for spec in POLICIES:
        result = build_payload(spec, document, now=NOW)
        assert isinstance(result.ok, bool)
        assert all(problem.reason for problem in result.problems)


@PROPERTY_SETTINGS
@given(document=documents)
def test_every_payload_the_engine_would_send_passes_brazes_rules(document):
    for compiled in COMPILED:
        result = compiled.run(document, now=NOW)
        if not result.ok:
            continue
        assert rules.limit_error(result.payload, rules.MAX_OBJECTS) is None
        assert rules.validate_body(result.payload).errors == [], result.payload


@PROPERTY_SETTINGS
@given(document=documents)
def test_the_engine_never_sends_null(document):
    def nulls(value):
        if isinstance(value, dict):
            return any(item is None or nulls(item) for item in value.values())
        if isinstance(value, list):
            return any(item is None or nulls(item) for item in value)
        return False

    for compiled in COMPILED:
        assert not nulls(compiled.run(document, now=NOW).payload)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_as_a_path_or_template_is_accepted_or_refused_cleanly(text):
    for source_type in ("path", "template"):
        spec = MappingSpec("id", (RowSpec(text, "x", source_type=source_type),))
        try:
            compiled = compile_mapping(spec)
        except ValueError:
            continue
        compiled.run({"id": "u", "x": {"y": [1]}}, now=NOW)


PLAIN_PATHS = ["a", "a.b", "a.b.name", "a[0]", "a[1].b", "a.b[0]", "a[-1]", "a[0][0]", "n.a.b.n"]


@PROPERTY_SETTINGS
@given(document=json_values)
def test_the_fast_path_reader_agrees_with_the_jmespath_library(document):
    for path in PLAIN_PATHS:
        assert compile_path(path)(document) == jmespath.search(path, document), path
