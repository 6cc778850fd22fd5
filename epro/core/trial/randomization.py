"""Concealed allocation lists: stratified permuted blocks of random size.

Why this design: ICH E9 (2.3.1) recommends randomization in blocks so that arms
stay balanced over time, with block lengths that investigators cannot guess
(varying block sizes), and stratification by centre in multi-centre trials.
CONSORT 2010 items 8-9 ask for the method and its concealment to be reported.

* A block holds every arm ``ratio × multiplier`` times, in random order, so
  each block is exactly balanced by the allocation ratio; its size is one of
  ``multiplier × sum(ratios)`` with the multiplier drawn per block.
* Each stratum (site) has its own generator seeded with
  ``random.Random(f"{seed}:{stratum}")`` (a string seed is hashed with SHA-512,
  Python's version-2 seeding), so the list is reproducible from the seed by an
  unblinded statistician, and adding a site changes no other site's list.
* Concealment is a matter of who sees the list: it is generated once, stored
  where masked staff cannot read it, and revealed one allocation at a time
  (:func:`allocate`).  :func:`list_digest` fingerprints the stored list so an
  audit can show it was not changed after generation.

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence


class RandomizationError(ValueError):
    """Invalid list parameters, or an exhausted list; ``field`` names what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")

    def __reduce__(self) -> tuple[type[Exception], tuple[str, str]]:
        return (type(self), (self.field, self.problem))


def _check(
    seed: str | int,
    arms: Sequence[tuple[str, int]],
    strata: Sequence[str],
    length_per_stratum: int,
    block_multipliers: Sequence[int],
) -> None:
    if isinstance(seed, bool) or not isinstance(seed, str | int) or seed == "":
        raise RandomizationError("seed", "must be a non-empty string or an integer")
    if not arms:
        raise RandomizationError("arms", "at least one arm is needed")
    codes = [code for code, _ in arms]
    if len(set(codes)) != len(codes):
        raise RandomizationError("arms", "arm codes must be unique")
    for code, ratio in arms:
        if not isinstance(code, str) or not code:
            raise RandomizationError("arms", f"{code!r} is not an arm code")
        if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
            raise RandomizationError("arms", f"ratio of {code!r} must be a whole number ≥ 1, not {ratio!r}")
    if not strata or len(set(strata)) != len(strata) or not all(isinstance(s, str) and s for s in strata):
        raise RandomizationError("strata", "must be a non-empty list of unique stratum codes")
    if isinstance(length_per_stratum, bool) or not isinstance(length_per_stratum, int) or length_per_stratum < 1:
        raise RandomizationError("length_per_stratum", "must be a whole number ≥ 1")
    if not block_multipliers or any(
        isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in block_multipliers
    ):
        raise RandomizationError("block_multipliers", "must be whole numbers ≥ 1")


def block_sizes(arms: Sequence[tuple[str, int]], block_multipliers: Sequence[int] = (1, 2)) -> tuple[int, ...]:
    """The possible block sizes, e.g. (3, 6) for 1:1:1 with multipliers (1, 2)."""
    total = sum(ratio for _, ratio in arms)
    return tuple(sorted({m * total for m in block_multipliers}))


def generate_blocks(
    seed: str | int,
    arms: Sequence[tuple[str, int]],
    strata: Sequence[str],
    length_per_stratum: int,
    block_multipliers: Sequence[int] = (1, 2),
) -> dict[str, list[list[str]]]:
    """Whole blocks per stratum, enough to cover *length_per_stratum* allocations."""
    _check(seed, arms, strata, length_per_stratum, block_multipliers)
    multipliers = tuple(block_multipliers)
    out: dict[str, list[list[str]]] = {}
    for stratum in strata:
        rng = random.Random(f"{seed}:{stratum}")
        blocks: list[list[str]] = []
        covered = 0
        while covered < length_per_stratum:
            m = rng.choice(multipliers)
            block = [code for code, ratio in arms for _ in range(ratio * m)]
            rng.shuffle(block)
            blocks.append(block)
            covered += len(block)
        out[stratum] = blocks
    return out


def generate_list(
    seed: str | int,
    arms: Sequence[tuple[str, int]],
    strata: Sequence[str],
    length_per_stratum: int,
    block_multipliers: Sequence[int] = (1, 2),
) -> dict[str, list[str]]:
    """The allocation list of each stratum: exactly *length_per_stratum* arm codes.

    The blocks of :func:`generate_blocks` laid end to end; the last block may be
    cut, as in any trial that stops mid-block.
    """
    blocks = generate_blocks(seed, arms, strata, length_per_stratum, block_multipliers)
    return {
        stratum: [code for block in stratum_blocks for code in block][:length_per_stratum]
        for stratum, stratum_blocks in blocks.items()
    }


def allocate(lists: Mapping[str, Sequence[str]], stratum: str, already_allocated: int) -> str:
    """The next arm for *stratum* once *already_allocated* patients there have one."""
    if stratum not in lists:
        raise RandomizationError("stratum", f"{stratum!r} has no allocation list")
    sequence = lists[stratum]
    if isinstance(already_allocated, bool) or not isinstance(already_allocated, int) or already_allocated < 0:
        raise RandomizationError("already_allocated", "must be a whole number ≥ 0")
    if already_allocated >= len(sequence):
        raise RandomizationError("stratum", f"the allocation list of {stratum!r} is used up")
    return sequence[already_allocated]


def list_digest(lists: Mapping[str, Sequence[str]]) -> str:
    """SHA-256 of the lists in a canonical JSON form, to prove a stored list unchanged."""
    canonical = json.dumps({k: list(v) for k, v in lists.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
