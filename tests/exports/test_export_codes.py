"""The one mapping table of export codes covers every instrument and keeps to SAS and SDTM limits."""
from __future__ import annotations

import re

import pytest

from epro.core import instruments
from epro.core.exports import codes

_SAS_NAME = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


def test_every_item_of_every_instrument_has_a_code() -> None:
    assert set(codes.TABLE) == set(instruments.CODES)
    for code in instruments.CODES:
        table = codes.for_instrument(code)
        assert tuple(c.key for c in table.items) == instruments.get(code).keys, code


def test_codes_are_sas_names_and_labels_fit() -> None:
    for table in codes.TABLE.values():
        assert table.domain in codes.DOMAINS
        assert len(table.category) <= 40 and table.category.isascii() and table.category == table.category.upper()
        for test in table.tests():
            assert _SAS_NAME.match(test.testcd), test.testcd
            assert len(test.test) <= 40 and test.test.isascii(), test.test


@pytest.mark.parametrize("domain", codes.DOMAINS)
def test_codes_are_unique_within_their_domain(domain: str) -> None:
    found = [t.testcd for table in codes.in_domain(domain) for t in table.tests()]
    assert found and len(found) == len(set(found))
    labels = [t.test for table in codes.in_domain(domain) for t in table.tests()]
    assert len(labels) == len(set(labels))


def test_gds_short_form_codes_are_the_cdisc_ones() -> None:
    table = codes.for_instrument("gds15")
    assert (table.domain, table.category, table.category_confirmed) == ("QS", "GDS SHORT FORM", True)
    assert [t.testcd for t in table.items] == [f"GDS02{n:02d}" for n in range(1, 16)]
    assert all(t.confirmed for t in table.items)
    assert table.total is not None and not table.total.confirmed


def test_only_the_gds_short_form_items_are_confirmed_and_sponsor_codes_start_with_x() -> None:
    for table in codes.TABLE.values():
        for test in table.tests():
            assert test.confirmed == (table.instrument == "gds15" and test.key is not None)
            if not test.confirmed and table.instrument != "gds30":
                assert test.testcd.startswith("X"), test.testcd
    assert codes.for_instrument("gds30").items[0].testcd == "GDS0101"


def test_domains_follow_the_instruments_kind() -> None:
    assert {c: t.domain for c, t in codes.TABLE.items()} == {
        "gds15": "QS", "gds30": "QS", "bi": "QS", "nihss": "QS", "mrs": "RS", "mmse": "FT"}
    assert codes.for_instrument("mrs").total is None
    with pytest.raises(KeyError):
        codes.for_instrument("bi").item("nope")
