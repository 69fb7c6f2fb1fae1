"""Golden tests: every Sigma modifier and condition form, with cases that must and must
not match. Each row is a detection (YAML), an event's fields and the expected answer."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sigma.collection import SigmaCollection

import floodwall.detect.sigma.parse  # noqa: F401  (registers the spec's utf16le alias)
from floodwall.detect.sigma.compiler import RuleCompileError, compile_rule
from floodwall.detect.sigma.matcher import Ctx, build


def matches(
    detection: str, fields: dict[str, Any], placeholders: dict[str, list[str]] | None = None
) -> bool:
    text = (
        "title: t\nid: 5a0b6e8e-0000-4000-8000-000000000001\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n" + "\n".join("  " + line for line in detection.strip().splitlines())
    )
    rule = SigmaCollection.from_yaml(text).rules[0]
    compiled = compile_rule(rule, path="t.yml", link="", placeholders=placeholders or {})
    return build(compiled.detection)(Ctx(fields))


B64 = base64.b64encode
CASES = [
    # plain values: equality, case-insensitive, wildcards
    (
        "sel: {Image: 'C:\\Windows\\cmd.exe'}\ncondition: sel",
        {"Image": "c:\\windows\\CMD.EXE"},
        True,
    ),
    ("sel: {Image: 'cmd.exe'}\ncondition: sel", {"Image": "C:\\cmd.exe"}, False),
    ("sel: {Image: '*\\cmd.exe'}\ncondition: sel", {"Image": "C:\\x\\cmd.exe"}, True),
    # Sigma escapes: a doubled backslash is one backslash, then * is a wildcard
    (r"sel: {Image: 'C:\\*\\cmd.?xe'}" "\ncondition: sel", {"Image": "C:\\a\\b\\cmd.exe"}, True),
    (r"sel: {Image: 'C:\\*\\cmd.?xe'}" "\ncondition: sel", {"Image": "D:\\a\\cmd.exe"}, False),
    ("sel: {Image: 'a\\*b'}\ncondition: sel", {"Image": "a*b"}, True),
    ("sel: {Image: 'a\\*b'}\ncondition: sel", {"Image": "axxb"}, False),
    ("sel: {Image: 'a*b'}\ncondition: sel", {"Image": "A\nB"}, True),
    ("sel: {Image: '*abc'}\ncondition: sel", {"Image": "xabc\n"}, False),
    ("sel: {Image: 'a?c*'}\ncondition: sel", {"Image": "abcd"}, True),
    # contains / startswith / endswith / all
    ("sel: {CommandLine|contains: ' -enc '}\ncondition: sel", {"CommandLine": "ps -ENC abc"}, True),
    (
        "sel: {CommandLine|contains: ' -enc '}\ncondition: sel",
        {"CommandLine": "ps -encoded"},
        False,
    ),
    ("sel: {CommandLine|startswith: 'net '}\ncondition: sel", {"CommandLine": "NET user"}, True),
    ("sel: {CommandLine|startswith: 'net '}\ncondition: sel", {"CommandLine": "x net user"}, False),
    ("sel: {Image|endswith: ['\\a.exe', '\\b.exe']}\ncondition: sel", {"Image": "C:\\b.exe"}, True),
    (
        "sel: {Image|endswith: ['\\a.exe', '\\b.exe']}\ncondition: sel",
        {"Image": "C:\\c.exe"},
        False,
    ),
    ("sel: {CommandLine|contains|all: [a1, b2]}\ncondition: sel", {"CommandLine": "b2 a1"}, True),
    (
        "sel: {CommandLine|contains|all: [a1, b2]}\ncondition: sel",
        {"CommandLine": "a1 only"},
        False,
    ),
    # cased
    ("sel: {Name|cased: 'AbC'}\ncondition: sel", {"Name": "AbC"}, True),
    ("sel: {Name|cased: 'AbC'}\ncondition: sel", {"Name": "abc"}, False),
    ("sel: {Name|contains|cased: 'Bc'}\ncondition: sel", {"Name": "aBcd"}, True),
    ("sel: {Name|contains|cased: 'Bc'}\ncondition: sel", {"Name": "abcd"}, False),
    # base64 / base64offset
    ("sel: {Data|base64: 'http'}\ncondition: sel", {"Data": B64(b"http").decode()}, True),
    (
        "sel: {Data|base64offset|contains: 'http://'}\ncondition: sel",
        {"Data": "x" + B64(b"GET http://evil").decode()},
        True,
    ),
    (
        "sel: {Data|base64offset|contains: 'http://'}\ncondition: sel",
        {"Data": B64(b"GET ftp://evil").decode()},
        False,
    ),
    # utf16le / utf16be / wide / utf16 with base64
    (
        "sel: {Data|utf16le|base64: 'ab'}\ncondition: sel",
        {"Data": B64("ab".encode("utf-16-le")).decode()},
        True,
    ),
    (
        "sel: {Data|wide|base64: 'ab'}\ncondition: sel",
        {"Data": B64("ab".encode("utf-16-le")).decode()},
        True,
    ),
    (
        "sel: {Data|utf16be|base64: 'ab'}\ncondition: sel",
        {"Data": B64("ab".encode("utf-16-be")).decode()},
        True,
    ),
    (
        "sel: {Data|utf16be|base64: 'ab'}\ncondition: sel",
        {"Data": B64("ab".encode("utf-16-le")).decode()},
        False,
    ),
    (
        "sel: {Data|utf16|base64: 'ab'}\ncondition: sel",
        {"Data": B64("ab".encode("utf-16")).decode()},
        True,
    ),
    # windash
    (
        "sel: {CommandLine|windash|contains: ' -exec '}\ncondition: sel",
        {"CommandLine": "x /exec y"},
        True,
    ),
    (
        "sel: {CommandLine|windash|contains: ' -exec '}\ncondition: sel",
        {"CommandLine": "x \u2013exec y"},
        True,
    ),
    (
        "sel: {CommandLine|windash|contains: ' -exec '}\ncondition: sel",
        {"CommandLine": "x +exec y"},
        False,
    ),
    # re with flags
    ("sel: {CommandLine|re: 'a.c'}\ncondition: sel", {"CommandLine": "xxabcxx"}, True),
    ("sel: {CommandLine|re: 'a.c'}\ncondition: sel", {"CommandLine": "xxABCxx"}, False),
    ("sel: {CommandLine|re|i: 'a.c'}\ncondition: sel", {"CommandLine": "xxABCxx"}, True),
    ("sel: {CommandLine|re|m: '^b$'}\ncondition: sel", {"CommandLine": "a\nb\nc"}, True),
    ("sel: {CommandLine|re: '^b$'}\ncondition: sel", {"CommandLine": "a\nb\nc"}, False),
    ("sel: {CommandLine|re|s: 'a.b'}\ncondition: sel", {"CommandLine": "a\nb"}, True),
    ("sel: {CommandLine|re: 'a.b'}\ncondition: sel", {"CommandLine": "a\nb"}, False),
    # cidr
    (
        "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel",
        {"DestinationIp": "10.2.3.4"},
        True,
    ),
    (
        "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel",
        {"DestinationIp": "11.2.3.4"},
        False,
    ),
    ("sel: {DestinationIp|cidr: 'fe80::/10'}\ncondition: sel", {"DestinationIp": "fe80::1"}, True),
    (
        "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel",
        {"DestinationIp": "not an ip"},
        False,
    ),
    # exists / null
    ("sel: {Foo|exists: true}\ncondition: sel", {"Foo": "x"}, True),
    ("sel: {Foo|exists: true}\ncondition: sel", {"Bar": "x"}, False),
    ("sel: {Foo|exists: false}\ncondition: sel", {"Bar": "x"}, True),
    ("sel: {Foo: null}\ncondition: sel", {"Bar": "x"}, True),
    ("sel: {Foo: null}\ncondition: sel", {"Foo": ""}, True),
    ("sel: {Foo: null}\ncondition: sel", {"Foo": "x"}, False),
    # fieldref
    (
        "sel: {ParentImage|fieldref: Image}\ncondition: sel",
        {"Image": "A.exe", "ParentImage": "a.EXE"},
        True,
    ),
    (
        "sel: {ParentImage|fieldref: Image}\ncondition: sel",
        {"Image": "A.exe", "ParentImage": "b.exe"},
        False,
    ),
    (
        "sel: {CommandLine|fieldref|startswith: Image}\ncondition: sel",
        {"Image": "C:\\a.exe", "CommandLine": "C:\\a.exe /x"},
        True,
    ),
    (
        "sel: {CommandLine|fieldref|endswith: Image}\ncondition: sel",
        {"Image": "C:\\a.exe", "CommandLine": "C:\\a.exe /x"},
        False,
    ),
    (
        "sel: {CommandLine|fieldref|contains: Image}\ncondition: sel",
        {"Image": "a.exe", "CommandLine": "run a.exe now"},
        True,
    ),
    # numeric comparisons and numbers
    ("sel: {Count|gt: 5}\ncondition: sel", {"Count": 6}, True),
    ("sel: {Count|gt: 5}\ncondition: sel", {"Count": 5}, False),
    ("sel: {Count|gte: 5}\ncondition: sel", {"Count": "5"}, True),
    ("sel: {Count|lt: 5}\ncondition: sel", {"Count": 4.5}, True),
    ("sel: {Count|lte: 5}\ncondition: sel", {"Count": 6}, False),
    ("sel: {Count|lt: 5}\ncondition: sel", {"Count": "n/a"}, False),
    ("sel: {EventID: 4688}\ncondition: sel", {"EventID": "4688"}, True),
    ("sel: {EventID: 4688}\ncondition: sel", {"EventID": 4689}, False),
    # expand with placeholders
    ("sel: {User|expand: '%admins%'}\ncondition: sel", {"User": "root"}, True),
    ("sel: {User|expand: '%admins%'}\ncondition: sel", {"User": "guest"}, False),
    # keywords (field-less), lists OR-ed, |all AND-ed
    (
        "keywords: [mimikatz, 'sekurlsa::']\ncondition: keywords",
        {"a": "run SEKURLSA::logonpasswords"},
        True,
    ),
    ("keywords: [mimikatz]\ncondition: keywords", {"a": "benign"}, False),
    ("keywords: {'|all': [alpha, beta]}\ncondition: keywords", {"a": "alpha", "b": "beta"}, True),
    ("keywords: {'|all': [alpha, beta]}\ncondition: keywords", {"a": "alpha"}, False),
    # multi-valued fields: any value
    ("sel: {Tags: evil}\ncondition: sel", {"Tags": ["good", "Evil"]}, True),
    ("sel: {Tags: evil}\ncondition: sel", {"Tags": ["good"]}, False),
    # condition grammar
    ("a: {X: 1}\nb: {Y: 2}\ncondition: a and not b", {"X": 1, "Y": 3}, True),
    ("a: {X: 1}\nb: {Y: 2}\ncondition: a and not b", {"X": 1, "Y": 2}, False),
    ("a: {X: 1}\nb: {Y: 2}\ncondition: a or b", {"Y": 2}, True),
    ("sel_a: {X: 1}\nsel_b: {Y: 2}\ncondition: 1 of sel_*", {"Y": 2}, True),
    ("sel_a: {X: 1}\nsel_b: {Y: 2}\ncondition: all of sel_*", {"Y": 2}, False),
    ("sel_a: {X: 1}\nsel_b: {Y: 2}\ncondition: all of sel_*", {"X": 1, "Y": 2}, True),
    ("a: {X: 1}\nb: {Y: 2}\ncondition: 1 of them", {"X": 1}, True),
    ("a: {X: 1}\nb: {Y: 2}\ncondition: all of them", {"X": 1}, False),
    ("a: {X: 1}\nb: {Y: 2}\nc: {Z: 3}\ncondition: a and (b or c)", {"X": 1, "Z": 3}, True),
    ("a: {X: 1}\nb: {Y: 2}\nc: {Z: 3}\ncondition: (a and b) or c", {"X": 1}, False),
    ("a: {X: 1}\nf: {Y: 2}\ncondition: a and not 1 of f*", {"X": 1, "Y": 2}, False),
    ("a: [{X: 1}, {Y: 2}]\ncondition: a", {"Y": 2}, True),
    ("a: {X: 1, Y: 2}\ncondition: a", {"Y": 2}, False),
]


@pytest.mark.parametrize(("detection", "fields", "expected"), CASES)
def test_detection(detection: str, fields: dict[str, Any], expected: bool) -> None:
    assert matches(detection, fields, {"admins": ["root", "Administrator"]}) is expected


def test_placeholder_without_value_is_a_clear_error() -> None:
    with pytest.raises(RuleCompileError, match="placeholder %admins% has no value"):
        matches("sel: {User|expand: '%admins%'}\ncondition: sel", {"User": "root"})
