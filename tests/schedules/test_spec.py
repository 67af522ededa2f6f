"""The one spec parser (STYLE.md 4): text, TOML tables and keyword arguments mean the same.

Also: ``str(fault)`` round-trips, every error names what is wrong and what is valid, and
every fault type is documented in the same shape (Name / Imitates / ... / Client sees /
Example), its Example being a spec the parser accepts.
"""

from __future__ import annotations

import re
import tomllib

import pytest

import fakens
from fakens.errors import ConfigError
from fakens.faults import REGISTRY, build, parse_text
from fakens.faults.base import SCHEDULE_KEYS
from fakens.selectors import SELECTOR_KEYS

from .conftest import example_zone

TEXT = "nxdomain qname=*.io. probability=0.3 seed=7"
TOML = """
[[fault]]
type = "nxdomain"
qname = "*.io."
probability = 0.3
seed = 7
"""


def without_name(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "name"}


def test_text_table_and_keywords_give_the_same_spec():
    from_text = build(TEXT)
    (table,) = tomllib.loads(TOML)["fault"]
    from_table = build(table)
    server = fakens.Server([example_zone()])  # not started: the control API works before start
    from_keywords = server.faults.add("nxdomain", qname="*.io.", probability=0.3, seed=7)
    expected = {"type": "nxdomain", "qname": "*.io.", "probability": 0.3, "seed": 7}
    assert without_name(from_text.spec()) == expected
    assert without_name(from_table.spec()) == expected
    assert without_name(from_keywords.spec()) == expected


def test_text_table_and_keywords_with_a_name_give_equal_specs():
    (table,) = tomllib.loads(TOML + 'name = "io-outage"\n')["fault"]
    server = fakens.Server([example_zone()])
    specs = [
        build(TEXT + " name=io-outage").spec(),
        build(table).spec(),
        server.faults.add("nxdomain", qname="*.io.", probability=0.3, seed=7, name="io-outage").spec(),
        server.faults.add({"type": "nxdomain", "qname": "*.io.", "probability": "0.3", "seed": "7",
                           "name": "io-outage-2"}).spec() | {"name": "io-outage"},
    ]
    assert specs[0] == specs[1] == specs[2] == specs[3]
    assert specs[0]["name"] == "io-outage"


def test_toml_arrays_and_text_lists_agree():
    doc = tomllib.loads('type = "nodata"\nqtype = ["A", "AAAA"]\nqname = ["www.example.test.", "**.io."]\n'
                        'per_client = true\nfrom = 100\nuntil = 200.5\nname = "n"\n')
    text = build("nodata qtype=A,AAAA qname=www.example.test.,**.io. per_client=true from=100 until=200.5 name=n")
    assert build(doc).spec() == text.spec()


def test_keywords_override_the_spec_and_hyphens_are_underscores():
    fault = build("nxdomain qname=a.example.test. per-client=true", qname="b.example.test.")
    assert fault.spec()["qname"] == "b.example.test."
    assert fault.spec()["per_client"] is True
    assert build("missing-glue mode=hosts hosts=ns1.example.test.").type_name == "missing-glue"
    assert build("missing_glue mode=a").type_name == "missing-glue"


def test_parse_text_keeps_values_as_text():
    assert parse_text('stale-data mode=records records="www 300 A 192.0.2.1" seed=3') == {
        "type": "stale-data", "mode": "records", "records": "www 300 A 192.0.2.1", "seed": "3"}


def test_spec_keeps_only_what_differs_from_defaults():
    assert build("delay name=d").spec() == {"type": "delay", "name": "d"}
    assert build("lame name=l").spec() == {"type": "lame", "name": "l", "mode": "refused"}


def test_default_selector_shows_in_the_spec_and_can_be_overridden():
    assert build("truncate name=t").spec()["transport"] == "udp"
    assert build("truncate name=t transport=tcp").spec()["transport"] == "tcp"
    assert build("refuse-transfer name=r").spec()["qtype"] == "AXFR,IXFR"


def test_names_are_unique_when_not_given():
    assert build("nxdomain").name != build("nxdomain").name


# -- round trips -------------------------------------------------------------------------------


def example_of(cls: type) -> str:
    match = re.search(r"^\s*Example: ``(.+?)``\s*$", cls.__doc__ or "", re.MULTILINE)
    assert match, f"{cls.type_name}: no 'Example: ``...``' line"
    return match.group(1)


ROUND_TRIPS = [
    TEXT,
    "nxdomain qname=**.io. soa_zone=io.",
    "nodata qtype=AAAA,CAA qclass=IN client=127.0.0.0/8,2001:db8::/32 transport=udp edns=true do=false",
    "rcode rcode=REFUSED question=false opcode=NOTIFY",
    "rcode rcode=NOTAUTH server=ns1,ns2",
    "stale-data mode=records records='www 300 A 192.0.2.1; mail 300 A 192.0.2.2'",
    "stale-data mode=version back=2 zone=example.test.",
    "ttl ttl=86400 negative=5",
    "flags set=RA,AD clear=AA",
    "lame mode=upward to=test. ns=a.test.,b.test.",
    "missing-glue mode=aaaa hosts=ns1.example.test.,ns2.example.test.",
    "stale-glue host=ns1.example.test. addresses=127.0.0.99,2001:db8::99",
    "ns-mismatch mode=rename old=ns2.example.test. new=ns3.example.test.",
    "delay ms=250 jitter=50 seed=1 qtype=AAAA",
    "drop tcp=reset transport=tcp",
    "rate-limit mode=slip qps=3",
    "tcp-refused mode=reset client=127.0.0.2",
    "edns mode=formerr when=version",
    "no-notify mode=wrong-address to=127.0.0.9:5353",
    "wrong-id offset=7",
    "wrong-question mode=name to=other.example.test.",
    "malformed mode=garbage",
    "nxdomain first=3 every=2 after=1 times=5 from=1000.5 until=2000 per_client=true",
    "nxdomain probability=0 seed=0",
    "nxdomain probability=1",
    "nxdomain qname=www.example.test. name='with space'",
    "wrong-question mode=type to_type=AAAA",
    "nxdomain qname=*.",
]


@pytest.mark.parametrize("text", ROUND_TRIPS + [example_of(c) for _, c in sorted(REGISTRY.items())])
def test_str_round_trips_through_the_parser(text):
    fault = build(text)
    again = build(str(fault))
    assert again.spec() == fault.spec()
    assert str(again) == str(fault)
    assert again.selector == fault.selector
    assert again.schedule.to_spec() == fault.schedule.to_spec()


def test_type_is_reserved_for_the_fault_type():
    """The spec key ``type`` names the fault type, so no parameter is called ``type``
    (wrong-question's question type is ``to_type``), and ``type=`` after the type word
    in text is an error rather than a silent change of fault type."""
    for text, table in (("wrong-question mode=type to_type=AAAA", {"type": "wrong-question", "mode": "type", "to_type": "AAAA"}),):
        for fault in (build(text), build(table), build("wrong-question", mode="type", to_type="AAAA")):
            assert fault.type_name == "wrong-question" and fault.mode == "type"
            assert fault.values["to_type"] == "AAAA"
            assert fault.spec()["type"] == "wrong-question"
    for cls in REGISTRY.values():
        assert "type" not in cls.params, cls.type_name
    with pytest.raises(ConfigError, match="type"):
        build("wrong-question mode=type type=AAAA")


def test_build_accepts_a_built_faults_spec_and_repr_names_it():
    fault = build(TEXT + " name=x")
    assert build(fault.spec()).spec() == fault.spec()
    assert "nxdomain" in repr(fault) and "name=x" in repr(fault)


# -- errors name what is wrong and what is valid -------------------------------------------------


def error_of(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as e:
        build(*args, **kwargs)
    return str(e.value)


def test_unknown_type_lists_valid_types():
    text = error_of("nxdomian qname=x.")
    assert "nxdomian" in text
    for name in REGISTRY:
        assert name in text


def test_empty_spec_and_missing_type_list_valid_types():
    for text in (error_of(""), error_of({"qname": "x."})):
        for name in REGISTRY:
            assert name in text


@pytest.mark.parametrize("type_name", sorted(n for n, c in REGISTRY.items() if c.modes))
def test_unknown_mode_lists_valid_modes(type_name):
    text = error_of(f"{type_name} mode=bogus")
    assert "bogus" in text and type_name in text
    for mode in REGISTRY[type_name].modes:
        assert mode in text


def test_mode_on_a_type_without_modes_is_an_error():
    assert "mode" in error_of("nxdomain mode=a")


def test_unknown_parameter_lists_valid_keys():
    text = error_of("nxdomain qname=x. colour=red")
    assert "colour" in text and "nxdomain" in text
    for key in ("soa_zone", "name", *SELECTOR_KEYS, *SCHEDULE_KEYS):
        assert key in text, f"{key} not listed in: {text}"
    assert "mode" not in text.split("valid:")[1], "nxdomain has no modes: 'mode' is not a valid key for it"
    assert "mode" in error_of("lame colour=red").split("valid:")[1]


def test_unknown_parameter_in_a_table_and_in_keywords():
    assert "colour" in error_of({"type": "delay", "colour": "red"})
    assert "colour" in error_of("delay", colour="red")
    assert "ms" in error_of("delay", colour="red")


def test_a_selector_the_fault_cannot_honour_names_it_and_the_valid_ones():
    text = error_of("tcp-refused qname=x.")
    assert "qname" in text and "tcp-refused" in text
    for key in REGISTRY["tcp-refused"].selector_keys:
        assert key in text
    text = error_of("no-notify qtype=A")
    assert "qtype" in text
    for key in REGISTRY["no-notify"].selector_keys:
        assert key in text


@pytest.mark.parametrize("spec, key, value", [
    ("nxdomain probability=2", "probability", "2"),
    ("nxdomain probability=-0.1", "probability", "-0.1"),
    ("nxdomain probability=often", "probability", "often"),
    ("nxdomain first=0", "first", "0"),
    ("nxdomain every=0", "every", "0"),
    ("nxdomain times=0", "times", "0"),
    ("nxdomain after=-1", "after", "-1"),
    ("nxdomain first=two", "first", "two"),
    ("nxdomain first=1.5", "first", "1.5"),
    ("nxdomain seed=lucky", "seed", "lucky"),
    ("nxdomain from=noon", "from", "noon"),
    ("nxdomain until=later", "until", "later"),
    ("nxdomain per_client=maybe", "per_client", "maybe"),
    ("rate-limit qps=abc", "qps", "abc"),
    ("delay ms=slow", "ms", "slow"),
    ("rcode rcode=WHATEVER", "rcode", "WHATEVER"),
    ("rcode question=perhaps", "question", "perhaps"),
    ("nxdomain soa_zone=a..b.", "soa_zone", "a..b."),
    ("nxdomain qtype=BOGUS", "qtype", "BOGUS"),
    ("nxdomain transport=quic", "transport", "quic"),
    ("nxdomain client=localhost", "client", "localhost"),
    ("nxdomain edns=maybe", "edns", "maybe"),
    ("nxdomain do=perhaps", "do", "perhaps"),
    ("nxdomain opcode=SHOUT", "opcode", "SHOUT"),
])
def test_bad_values_name_key_and_value(spec, key, value):
    text = error_of(spec)
    assert key in text and value in text, text


@pytest.mark.parametrize("table, key, value", [
    ({"type": "nxdomain", "first": 1.5}, "first", "1.5"),
    ({"type": "nxdomain", "every": 2.5}, "every", "2.5"),
    ({"type": "rate-limit", "qps": 2.5}, "qps", "2.5"),
    ({"type": "nxdomain", "per_client": "sometimes"}, "per_client", "sometimes"),
    ({"type": "nxdomain", "probability": 2}, "probability", "2"),
])
def test_bad_values_from_a_toml_table_name_key_and_value(table, key, value):
    """A TOML float where a count is wanted is not silently truncated (first = 1.5 is not 1)."""
    text = error_of(table)
    assert key in text and value in text, text


def test_word_without_equals_is_an_error_naming_it():
    text = error_of("nxdomain www.example.test.")
    assert "www.example.test." in text and "key=value" in text


def test_unbalanced_quote_is_an_error():
    assert "stale-data" in error_of("stale-data mode=records records='www 300 A 192.0.2.1")


def test_required_parameter_is_named():
    text = error_of("stale-glue host=ns1.example.test.")
    assert "addresses" in text


def test_errors_are_config_errors_and_fakens_errors():
    with pytest.raises(fakens.FakensError):
        build("bogus")


# -- the documentation template --------------------------------------------------------------


HEADING = re.compile(r"^    ([A-Z][A-Za-z ]*?)(?: \([^)]*\))?: ", re.MULTILINE)


def headings(cls: type) -> list[str]:
    doc = cls.__doc__ or ""
    first, _, rest = doc.partition("\n")
    return [h for h in [first.split(":")[0]] + HEADING.findall(rest)]


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_docstring_follows_the_template(type_name):
    """Name / Imitates / [Modes] / [Parameters] / ... / Client sees / Example, in that order."""
    cls = REGISTRY[type_name]
    doc = cls.__doc__ or ""
    assert doc.startswith(f"Name: {type_name}\n"), f"{type_name}: docstring must start 'Name: {type_name}'"
    found = headings(cls)
    assert found[0] == "Name" and found[1] == "Imitates", found
    # what signed zones change, what a validator and a checker show, and what a transfer
    # carries go after "Client sees"
    after = [h for h in found if h in ("Signed zones", "Validator sees", "Checker shows", "Transfers")]
    signed = [h for h in after if h != "Transfers"]
    found = [h for h in found if h not in after]
    assert found[-2:] == ["Client sees", "Example"], found
    if cls.signed_only:
        assert signed == ["Validator sees", "Checker shows"], f"{type_name}: a DNSSEC fault says what a validator and a checker show"
    if cls.modes:
        assert "Modes" in found, f"{type_name} has modes {cls.modes} but no Modes: section"
        for mode in cls.modes:
            assert f"``{mode}``" in doc, f"{type_name}: mode {mode} not documented"
        assert "(default)" in doc.split("Modes:")[1].split(f"``{cls.modes[0]}``")[1][:12], \
            f"{type_name}: the first mode, {cls.modes[0]}, must be marked (default)"
    for param in cls.params:
        assert f"``{param}``" in doc, f"{type_name}: parameter {param} not documented"
    assert cls.summary, f"{type_name}: no summary"


@pytest.mark.parametrize("type_name", sorted(n for n, c in REGISTRY.items() if c.params))
def test_parameters_have_their_own_section(type_name):
    """Every type with parameters has a ``Parameters:`` section, as the template has."""
    cls = REGISTRY[type_name]
    assert "Parameters" in headings(cls), f"{type_name}: parameters {list(cls.params)} but no Parameters: section"


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_docstring_example_builds_that_type(type_name):
    cls = REGISTRY[type_name]
    fault = build(example_of(cls))
    assert fault.type_name == type_name
    assert isinstance(fault, cls)


@pytest.mark.parametrize("text", ["tcp-refused mode=closed client=127.0.0.2", "tcp-refused mode=closed first=3",
                                  "tcp-refused mode=closed probability=0.5"])
def test_tcp_refused_closed_refuses_what_a_closed_listener_cannot_honour(text):
    with pytest.raises(ConfigError, match="mode=reset"):
        build(text)
