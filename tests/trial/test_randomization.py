"""Permuted-block lists: balanced blocks, random sizes, reproducible per stratum."""

from __future__ import annotations

from collections import Counter

import pytest

from epro.core.protocols import load
from epro.core.trial.randomization import (
    RandomizationError,
    allocate,
    block_sizes,
    generate_blocks,
    generate_list,
    list_digest,
)

THREE = [("low", 1), ("medium", 1), ("high", 1)]
TWO_TO_ONE = [("bmsc", 2), ("routine", 1)]


@pytest.mark.parametrize("arms", [THREE, TWO_TO_ONE, [("a", 1), ("b", 3)]])
def test_every_block_is_balanced_by_ratio(arms) -> None:
    multipliers = (1, 2)
    blocks = generate_blocks("seed", arms, ["A", "B", "C"], 200, multipliers)
    total = sum(r for _, r in arms)
    for stratum_blocks in blocks.values():
        assert sum(map(len, stratum_blocks)) >= 200
        for block in stratum_blocks:
            m = len(block) // total
            assert m in multipliers and len(block) == m * total
            assert Counter(block) == {code: ratio * m for code, ratio in arms}


def test_block_sizes_vary() -> None:
    blocks = generate_blocks(1, THREE, ["A"], 300)["A"]
    assert {len(b) for b in blocks} == {3, 6}
    assert block_sizes(THREE) == (3, 6)
    assert block_sizes(TWO_TO_ONE, (2, 4)) == (6, 12)


@pytest.mark.parametrize("length", [1, 2, 5, 6, 7, 60])
def test_lengths(length: int) -> None:
    lists = generate_list("s", THREE, ["A", "B"], length)
    assert list(lists) == ["A", "B"]
    assert all(len(v) == length for v in lists.values())


def test_list_is_the_blocks_end_to_end() -> None:
    blocks = generate_blocks("s", TWO_TO_ONE, ["A"], 20)["A"]
    assert generate_list("s", TWO_TO_ONE, ["A"], 20)["A"] == [c for b in blocks for c in b][:20]


def test_ratio_two_to_one() -> None:
    blocks = generate_blocks("s", TWO_TO_ONE, ["A"], 300)["A"]
    assert {len(b) for b in blocks} == {3, 6}
    counts: Counter[str] = Counter()
    for block in blocks:  # exact 2:1 after every complete block
        counts.update(block)
        assert counts["bmsc"] == 2 * counts["routine"]
    lst = generate_list("s", TWO_TO_ONE, ["A"], 301)["A"]
    partial = Counter(lst)  # cut mid-block: off by less than one block
    assert abs(partial["bmsc"] - 2 * partial["routine"]) < 6


def test_reproducible_from_the_seed() -> None:
    a = generate_list("epro-2026", THREE, ["A", "B"], 30)
    assert a == generate_list("epro-2026", THREE, ["A", "B"], 30)
    # Each stratum has its own generator: adding a site or reordering changes no other site's list.
    assert generate_list("epro-2026", THREE, ["B", "A", "C"], 30)["A"] == a["A"]
    assert generate_list(7, THREE, ["A"], 30) == generate_list("7", THREE, ["A"], 30)


def test_golden_list() -> None:
    """Pinned output: a change here means stored lists could no longer be regenerated."""
    lists = generate_list("epro-2026", THREE, ["A", "B"], 9)
    assert lists == {
        "A": ["high", "low", "medium", "low", "medium", "high", "high", "low", "medium"],
        "B": ["medium", "high", "low", "medium", "high", "low", "medium", "high", "high"],
    }
    assert list_digest(lists) == "7c2e9e372ec1bced45414229a67eb877e5bff5e1fd6df04b971522cc3448cc27"


def test_different_seeds_and_strata_differ() -> None:
    a = generate_list("one", THREE, ["A", "B"], 60)
    b = generate_list("two", THREE, ["A", "B"], 60)
    assert a["A"] != b["A"] and a["B"] != b["B"]
    assert a["A"] != a["B"]


def test_protocol_arms_feed_the_generator() -> None:
    p = load("it-hmsc")
    lists = generate_list("x", p.arm_ratios(), [s.code for s in p.sites], 60)
    assert set(lists["A"]) == {"low", "medium", "high"}


def test_allocate_reveals_one_at_a_time() -> None:
    lists = generate_list("s", THREE, ["A"], 4)
    assert [allocate(lists, "A", i) for i in range(4)] == lists["A"]
    with pytest.raises(RandomizationError, match="used up"):
        allocate(lists, "A", 4)
    with pytest.raises(RandomizationError) as info:
        allocate(lists, "Z", 0)
    assert info.value.field == "stratum"
    with pytest.raises(RandomizationError):
        allocate(lists, "A", -1)


def test_digest_detects_any_change() -> None:
    lists = {"A": ["low", "high", "medium"]}
    assert list_digest(lists) != list_digest({"A": ["high", "low", "medium"]})
    assert list_digest(lists) != list_digest({"B": ["low", "high", "medium"]})
    assert list_digest({"A": ["a"], "B": ["b"]}) == list_digest({"B": ["b"], "A": ["a"]})


@pytest.mark.parametrize(("kwargs", "field"), [
    (dict(seed=""), "seed"),
    (dict(seed=True), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(arms=[]), "arms"),
    (dict(arms=[("a", 1), ("a", 1)]), "arms"),
    (dict(arms=[("a", 0), ("b", 1)]), "arms"),
    (dict(arms=[("a", True), ("b", 1)]), "arms"),
    (dict(arms=[("", 1), ("b", 1)]), "arms"),
    (dict(strata=[]), "strata"),
    (dict(strata=["A", "A"]), "strata"),
    (dict(length_per_stratum=0), "length_per_stratum"),
    (dict(block_multipliers=()), "block_multipliers"),
    (dict(block_multipliers=(0, 1)), "block_multipliers"),
])
def test_invalid_parameters(kwargs: dict, field: str) -> None:
    args = dict(seed="s", arms=THREE, strata=["A"], length_per_stratum=10, block_multipliers=(1, 2))
    args.update(kwargs)
    with pytest.raises(RandomizationError) as info:
        generate_list(**args)
    assert info.value.field == field
