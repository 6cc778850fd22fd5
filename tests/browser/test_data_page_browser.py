"""The Data page in Chromium: a data manager exports a study and downloads the zip, in both languages."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from test_accessibility import assert_no_violations


@pytest.mark.parametrize("lang,button,listed", [("zh", "导出并下载", "设盲导出"), ("en", "Export and download",
                                                                                "Masked export")])
def test_a_data_manager_exports_and_downloads_a_masked_study(page_for, helpers, lang, button, listed):
    page = page_for("datamanager", lang, 1280, 900)
    page.goto("/data/")
    assert_no_violations(page, f"data page ({lang})")
    page.select_option("select[name=study]", label=page.locator("select[name=study] option", has_text="IT-HMSC")
                       .first.inner_text())
    page.check("input[name=format][value=csv]")
    assert page.locator("input[data-unblinded]").count() == 0  # a data manager is always masked
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        names = set(archive.namelist())
        assert {"responses_long.csv", "visits_wide.csv", "datapackage.json"} <= {n.split("/")[-1] for n in names}
        package = json.loads(archive.read(next(n for n in names if n.endswith("datapackage.json"))))
        assert package["epro"]["blinding"] == "masked"
    page.goto("/data/")
    row = page.locator("table#exports tbody tr[data-format=csv]").first
    assert listed in row.inner_text() and "datamanager" in row.inner_text()
    assert page.locator("#derivation-rules dt").count() >= 7


def test_the_data_page_fits_a_phone(page_for, helpers):
    page = page_for("statistician", "zh", 360, 640)
    page.goto("/data/")
    assert page.locator("input[data-unblinded]").count() == 1  # an unblinded statistician may choose
    helpers.no_horizontal_scroll(page)
    assert_no_violations(page, "data page at 360 px (zh)")
