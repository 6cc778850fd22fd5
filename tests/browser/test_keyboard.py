"""The questionnaire can be answered and sent with the keyboard alone, with a visible focus."""
import re

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  return {tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '', value: el.value || '',
          checked: !!el.checked, text: (el.textContent || '').trim(), label: el.getAttribute('aria-label') || '',
          visible: outline || shadow, outline: s.outlineStyle + ' ' + s.outlineWidth, shadow: s.boxShadow,
          submitRow: !!el.closest('[data-submit-row]'), matchesNext: el === window.__next};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def tab_until(page, want, limit: int = 40) -> dict:
    """Press Tab until the focused element satisfies *want*; fails after *limit* presses."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if info and want(info):
            assert info["visible"], f"no visible focus indicator on {info}"
            return info
        seen.append(info and (info["tag"], info["name"] or info["text"][:20]))
    raise AssertionError(f"never reached the wanted element with Tab; went through {seen}")


def test_keyboard_only_questionnaire(page_for, helpers):
    page = page_for("patient.a1", "zh")
    pid = helpers.patient_id(page)
    page.goto(f"/patients/{pid}/visits/M3/bi")
    wizard = helpers.Wizard(page)
    page.evaluate("() => { window.__next = document.querySelector("
                  "'form#questionnaire > div.actions:not([data-submit-row]) > button.grow'); }")
    keys = wizard.step_keys()
    chosen = {}
    for i, key in enumerate(keys):
        assert wizard.current_key() == key
        # Into the radio group: focus lands on its first answer; Space chooses it.
        info = tab_until(page, lambda f, key=key: f["type"] == "radio" and f["name"] == key)
        assert not info["checked"]
        page.keyboard.press("Space")
        info = focused(page)
        assert info["checked"] and info["name"] == key, info
        # On odd steps, move to the next answer with an arrow key (which also chooses it).
        if i % 2:
            page.keyboard.press("ArrowDown")
            info = focused(page)
            assert info["checked"] and info["name"] == key and info["visible"], info
        chosen[key] = int(info["value"])
        assert wizard.checked(key) == info["value"]
        tab_until(page, lambda f: f["matchesNext"])
        page.keyboard.press("Enter")
        if i < len(keys) - 1:
            assert wizard.current_key() == keys[i + 1], "Enter on Next did not move on"
            # Focus goes to the new question so a screen reader reads it.
            assert page.evaluate("() => document.activeElement.tagName") == "LEGEND"

    assert wizard.review.is_visible()
    assert len(wizard.review_items()) == len(keys)
    # Change the first answer from the review with the keyboard.
    tab_until(page, lambda f: f["tag"] == "button" and f["label"].endswith(": 1"))
    page.keyboard.press("Enter")
    assert wizard.current_key() == keys[0]
    info = tab_until(page, lambda f: f["type"] == "radio" and f["name"] == keys[0])
    assert info["checked"], "Tab should land on the chosen answer"
    page.keyboard.press("ArrowDown")
    chosen[keys[0]] = int(focused(page)["value"])
    tab_until(page, lambda f: f["matchesNext"])
    page.keyboard.press("Enter")
    assert wizard.review.is_visible()

    tab_until(page, lambda f: f["submitRow"] and f["type"] == "submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(rf"/patients/{pid}/done/[\w-]+$", page.url), page.url
    total = sum(chosen.values())
    assert str(total) in helpers.numbers(page.locator(".good-news").inner_text())
    stored = helpers.responses_of(page, pid, "M3", "bi")
    assert len(stored) == 1 and stored[0]["total"] == total, (stored, chosen)


def test_skip_link_is_first_and_visible_on_focus(page_for):
    page = page_for("patient.a1", "en")
    page.keyboard.press("Tab")
    info = focused(page)
    assert info["tag"] == "a" and info["visible"], info
    box = page.evaluate("() => document.activeElement.getBoundingClientRect().toJSON()")
    assert box["left"] >= 0 and box["width"] > 0, "skip link stays off screen when focused"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
