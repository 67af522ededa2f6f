"""FastName behaves as dnspython's Name in every comparison, hash and parent, case and
absoluteness included; dicts keyed by either class find the other."""

from __future__ import annotations

import copy
import itertools
import pickle

import dns.name
import pytest

from fakens.names import FastName, as_fast, fast_name, forget_hash, hashed_name, joined_name, suffix_hash

TEXTS = ["www.example.test.", "WWW.Example.TEST.", "example.test.", "test.", ".", "www.example.test",
         "example.test", "www", "a.b.c.d.e.", "*.example.test.", "xn--bcher-kva.test.", "www.example.tesT.",
         "wwx.example.test.", "ww.example.test."]


def names() -> list[dns.name.Name]:
    return [dns.name.from_text(t, None) for t in TEXTS] + [dns.name.empty]


@pytest.mark.parametrize(("a", "b"), itertools.product(names(), names()))
def test_comparisons_are_dnspythons(a: dns.name.Name, b: dns.name.Name) -> None:
    fa, fb = as_fast(a), as_fast(b)
    assert isinstance(fa, FastName)
    for x, y in ((fa, b), (a, fb), (fa, fb)):
        assert (x == y) == (a == b)
        assert (x != y) == (a != b)
        assert x.is_subdomain(y) == a.is_subdomain(b)
        if a == b:
            assert hash(x) == hash(y)
    assert ({a: 1}.get(fb) == 1) == (a == b)
    assert ({fa: 1}.get(b) == 1) == (a == b)


def test_hash_is_dnspythons_and_kept() -> None:
    for name in names():
        fast = as_fast(name)
        assert hash(fast) == hash(name) == hash(fast)


def test_a_name_hashed_at_once_or_whose_hash_was_forgotten_hashes_as_dnspython_s() -> None:
    long_label = b"x" * 63  # a number past a machine word, folded by hash() as dnspython's is
    for labels in [n.labels for n in names()] + [(long_label,) * 3 + (b"",), (b"H12345", b"Big", b"test", b"")]:
        reference = hash(dns.name.Name(labels))
        made = hashed_name(labels)
        assert isinstance(made, FastName) and made.labels == labels and hash(made) == reference
        forget_hash(made)
        assert hash(made) == reference == hash(made)
        assert {made: 1}.get(dns.name.Name(labels)) == 1 and {dns.name.Name(labels): 1}.get(made) == 1
        if labels:  # made from a first label and a suffix whose part of the hash was kept
            joined = joined_name(labels[0], labels[1:], *suffix_hash(labels[1:]))
            assert isinstance(joined, FastName) and joined.labels == labels and hash(joined) == reference


def test_parent_is_a_fast_name() -> None:
    name = fast_name((b"www", b"Example", b"test", b""))
    parent = name.parent()
    assert isinstance(parent, FastName)
    assert parent == dns.name.from_text("example.test.")
    assert parent.labels == (b"Example", b"test", b"")  # case kept, as dnspython keeps it
    assert dns.name.from_text("test.").parent() == as_fast(dns.name.from_text("test.")).parent() == dns.name.root
    with pytest.raises(dns.name.NoParent):
        as_fast(dns.name.root).parent()
    with pytest.raises(dns.name.NoParent):
        as_fast(dns.name.empty).parent()


def test_pickles_and_copies() -> None:
    name = fast_name((b"WWW", b"example", b"test", b""))
    hash(name)
    again = pickle.loads(pickle.dumps(name))
    assert again == name and hash(again) == hash(name) and again.labels == name.labels
    assert copy.deepcopy(name) == name and copy.copy(name) == name


def test_not_equal_to_other_things() -> None:
    name = as_fast(dns.name.from_text("example.test."))
    assert name != "example.test."
    assert (name == 3) is False
