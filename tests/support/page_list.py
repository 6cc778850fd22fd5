"""Every page a person of each role opens, by demo account: one list for the page sweeps
(tests/test_i18n.py renders them all in both languages, tests/browser/test_every_page.py
checks them at 360 px and 200 % text)."""
from __future__ import annotations


def pages_for(ids: dict[str, int]) -> dict[str, list[str]]:
    a1 = ids["A-001"]
    return {
        "patient.a1": ["/me", f"/patients/{a1}/visits/M3/bi", f"/patients/{a1}/visits/M3/gds15",
                       f"/patients/{a1}/history", f"/patients/{a1}/report", "/reminders", "/account"],
        "caregiver.a1": ["/me", f"/patients/{a1}/visits/M3/gds15", f"/patients/{a1}/history"],
        "clinician.a": ["/clinic/", "/clinic/?filter=late", f"/clinic/patients/{a1}", "/clinic/enrol",
                        f"/clinic/patients/{a1}/codes"] + [
                        f"/clinic/patients/{a1}/visits/M3/{c}" for c in ("nihss", "mrs", "mmse")] + [
                        f"/clinic/trial/{page}" for page in (
                            "", "screening", "safety", f"patients/{a1}/infusions", f"patients/{a1}/adverse-events",
                            f"patients/{a1}/adverse-events/new", f"patients/{a1}/visits/M1/safety",
                            f"patients/{a1}/unblind", f"patients/{a1}/disposition")],
        "investigator.a": [f"/clinic/trial/patients/{a1}/infusions"],
        "admin": ["/clinic/admin", "/clinic/trial/admin/studies/new", "/admin/sites", "/admin/studies", "/admin/users",
                  "/admin/log"],
        "datamanager": ["/data/", "/queries/"], "statistician": ["/data/"],
        "monitor.a": ["/queries/", "/clinic/"],
    }
