"""The XPT v5 writer produces the very bytes pyreadstat (ReadStat) writes, and pyreadstat reads them back."""
from __future__ import annotations

import math
import pathlib
from datetime import datetime

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from support.export_sample import sample_study

from epro.services.exports import sdtm, xpt

STAMP = datetime(2026, 3, 1, 8, 5, 9)


def _reference(path: pathlib.Path, name: str, label: str, columns: list[xpt.Column]) -> bytes:
    """What pyreadstat writes for the same columns, with the same creation time in its headers."""
    frame = pd.DataFrame({
        c.name: pd.Series([math.nan if v is None else float(v) for v in c.values], dtype="float64") if c.numeric
        else pd.Series(["" if v is None else v for v in c.values], dtype=object)
        for c in columns
    }, columns=[c.name for c in columns])
    pyreadstat.write_xport(frame, str(path), file_label=label, column_labels=[c.label for c in columns],
                           table_name=name, file_format_version=5)
    data = bytearray(path.read_bytes())
    stamp = xpt._stamp(STAMP)
    # The four 16-byte creation/modification stamps (library and member headers) are the only
    # bytes that depend on the clock.
    for offset in (144, 160, 464, 480):
        data[offset:offset + 16] = stamp
    return bytes(data)


def _mine(path: pathlib.Path, name: str, label: str, columns: list[xpt.Column]) -> bytes:
    xpt.write(path, name, label, columns, created=STAMP)
    return path.read_bytes()


CASES = {
    "text and numbers with missing values": [
        xpt.Column("STUDYID", "Study Identifier", False, ["AB", "ABCDE", "", None]),
        xpt.Column("N", "Number", True, [1, None, 0, -7]),
        xpt.Column("X", "Real", True, [0.5, -3.25, 1e10, 1 / 3]),
    ],
    "one row": [xpt.Column("A", "A", False, ["x"]), xpt.Column("B", "B", True, [42])],
    "no rows": [xpt.Column("A", "A", False, []), xpt.Column("B", "B", True, [])],
    "a 200-character value and an empty column": [
        xpt.Column("LONG", "Long text", False, ["y" * 200, "z"]), xpt.Column("EMPTY", "Empty", False, [None, ""]),
    ],
    "tiny, huge and whole numbers": [
        xpt.Column("V", "Value", True, [1e-70, 1e70, 2**53, -0.1, 100, 0.0, 1e9 + 0.5]),
    ],
}


@pytest.mark.parametrize("case", CASES)
def test_the_bytes_are_pyreadstats(tmp_path, case):
    columns = CASES[case]
    assert _mine(tmp_path / "mine.xpt", "DS", "A label", columns) == \
        _reference(tmp_path / "ref.xpt", "DS", "A label", columns)


def test_every_sdtm_dataset_of_the_sample_is_written_as_pyreadstat_writes_it(tmp_path):
    export = sample_study(unblinded=True)
    datasets = sdtm.datasets(export)
    assert {d.name for d in datasets} >= {"DM", "QS", "RS", "FT", "AE", "EX", "DS", "SV"}
    for dataset in datasets:
        values, lengths, _rows = sdtm._columns(dataset)
        columns = [xpt.Column(v.name, v.label, v.kind in ("integer", "float"), col, width=length)
                   for v, col, length in zip(dataset.variables, values, lengths, strict=True)]
        mine = _mine(tmp_path / f"{dataset.name}.xpt", dataset.name, dataset.label, columns)
        assert mine == _reference(tmp_path / f"{dataset.name}-ref.xpt", dataset.name, dataset.label, columns), \
            dataset.name
        frame, meta = pyreadstat.read_xport(str(tmp_path / f"{dataset.name}.xpt"))
        assert meta.number_rows == len(dataset.rows) and meta.table_name == dataset.name


def test_ibm_floats_round_trip_through_pyreadstat(tmp_path):
    values = [0.0, 1.0, -1.0, 0.1, 123456.789, -2.5e-5, 9.87e30, None]
    xpt.write(tmp_path / "f.xpt", "F", "Floats", [xpt.Column("F", "F", True, values)], created=STAMP)
    frame, _ = pyreadstat.read_xport(str(tmp_path / "f.xpt"))
    read = frame["F"].to_list()
    assert math.isnan(read[-1])
    assert np.allclose(read[:-1], values[:-1], rtol=1e-15, atol=0)


@pytest.mark.parametrize("columns, message", [
    ([xpt.Column("T", "T", False, ["x" * 201])], "longer than 200"),
    ([xpt.Column("T", "T", False, ["头"])], "ascii"),
    ([xpt.Column("N", "N", True, [math.inf])], "infinite"),
    ([xpt.Column("N", "N", True, [1e80])], "range"),
    ([xpt.Column("A", "A", True, [1]), xpt.Column("B", "B", True, [1, 2])], "same number"),
    ([], "at least one"),
])
def test_what_xpt_v5_cannot_hold_is_refused(tmp_path, columns, message):
    with pytest.raises((ValueError, UnicodeEncodeError), match=f"(?i){message}"):
        xpt.write(tmp_path / "bad.xpt", "BAD", "Bad", columns, created=STAMP)
