"""The ``odm`` export: ``DIR/odm.xml``, CDISC ODM 1.3.2 (a Snapshot file).

One file holds the study's metadata, its clinical data and the audit trail:

* ``Study/MetaDataVersion``: a ``StudyEventDef`` per visit of the protocol
  (window in its description) plus ``SE.SUBJECT``, a common event that holds
  the subject's own data, adverse events and infusions; a ``FormDef`` per
  instrument; per instrument an item group of its items (``IG.<CODE>``) and one
  of its score (``IG.<CODE>.SCORE``: total, change from baseline), and one
  shared group ``IG.RESPONSE`` of how the derivations treat the response
  (respondent, counts, the response's flags — proxy, contains_un —, the
  derivation flags, identifiers, times, rater and signer).  Question and
  decode texts are given in English and Chinese (``xml:lang="zh"``, from the
  ``zh_Hans`` catalog).  The written derivation rules (``export.rules``) are the
  MetaDataVersion's ``Description`` and the Protocol's description.
* ``AdminData``: a ``User`` per username that appears (login names only, no
  person's name) and a ``Location`` per site, plus the sponsor's location for
  audit rows about no subject.
* ``ClinicalData``: ``SubjectData`` (``SubjectKey`` = the subject code) →
  ``StudyEventData`` per visit → one ``FormData`` per stored response
  (``FormRepeatKey`` numbers the responses of one visit and instrument in the
  order they were completed) → ``ItemGroupData`` → ``ItemData``.  Every
  ``FormData`` carries an ``AuditRecord``: the latest audit row about that
  response, else the response's ``entered_by`` and ``completed_at``; it applies
  to the form's items, and an ``ItemData`` changed since entry (an audit row about
  that item) carries its own, the latest such row.  (Repeating the form's
  record on each of 400,000 items made the file three times as large and as slow
  to write, and said nothing more.)  The derived groups (score, response) carry
  epro's own record of the export time.  The whole trail is kept as well in ``ClinicalData/AuditRecords``
  with, per row, an ``Annotation`` saying what changed.  Signed clinician
  ratings carry a ``Signature``.

Codes: LOINC as ``Alias Context="LOINC"`` only where INSTRUMENTS.md confirms
it — the NIHSS total 72089-6 and panel 70182-1 are *not* confirmed and are
left out (see :mod:`epro.services.exports.texts`).  The GDS-15 items carry
their CDISC QS codes (``Alias Context="SDTM QSTESTCD"``, the item keys, and
QSCAT ``GDS SHORT FORM``); the other instruments' CDISC codes are not
confirmed, so no SDTM alias is given for them.  NIHSS "UN" is a coded value of
its own (items that allow it have DataType ``text``).

Masking: arms, doses, volumes and lots are written only when
``export.unblinded``; a masked export has no ItemDef for them at all.

Standard library only: ``xml.etree.ElementTree`` for the metadata, text for the
clinical data (:class:`_Xml`), written one subject at a time.
"""
from __future__ import annotations

import functools
import pathlib
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TextIO
from xml.sax.saxutils import escape

from epro.core import instruments
from epro.core.exports.records import AuditRecord, ResponseRecord, StudyExport, Subject
from epro.core.instruments import Instrument, Item

from .texts import bilingual, confirmed_loinc

FILENAME = "odm.xml"
NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SYSTEM_USER = "system"
SUBJECT_EVENT = "SE.SUBJECT"
SPONSOR_LOCATION = "LOC.SPONSOR"
SIGNATURE_DEF = "SD.RATING"

#: The shared item group of a response: (key, label key, DataType).
_RESPONSE_ITEMS = (
    ("RESPONSE_ID", "response_id", "text"),
    ("RESPONDENT", "respondent", "text"),
    ("COUNTS", "counts", "boolean"),
    ("FLAGS", "flags", "text"),
    ("ANALYSIS_FLAGS", "analysis_flags", "text"),
    ("COMPLETED_AT", "completed_at", "datetime"),
    ("RECEIVED_AT", "received_at", "datetime"),
    ("STUDY_DAY", "study_day", "integer"),
    ("RATER", "rater", "text"),
    ("SIGNED_BY", "signed_by", "text"),
    ("VERSION", "version", "integer"),
)
_DM_ITEMS = (
    ("SEX", "sex", "text"),
    ("BIRTH_YEAR", "birth_year", "integer"),
    ("EDUCATION", "education", "text"),
    ("LANGUAGE", "language", "text"),
    ("DAY0", "day0", "date"),
    ("ENROLLED_ON", "enrolled_on", "date"),
    ("DISPOSITION", "disposition", "text"),
    ("DISPOSITION_ON", "disposition_on", "date"),
    ("DEATH_DATE", "death_date", "date"),
)
_ARM_ITEMS = (("ARM", "arm", "text"), ("ARM_LABEL", "arm_label", "text"))
_AE_ITEMS = tuple((key.upper(), key, kind) for key, kind in (
    ("ae_id", "integer"), ("term", "text"), ("onset", "date"), ("end", "date"), ("grade", "integer"),
    ("serious", "boolean"), ("serious_criteria", "text"), ("relatedness", "text"), ("action", "text"),
    ("outcome", "text"), ("aware_at", "datetime"), ("reported_at", "datetime"),
))
_EX_ITEMS = tuple((key.upper(), key, kind) for key, kind in (
    ("infusion_id", "integer"), ("number", "integer"), ("given_at", "datetime"), ("given_on", "date"),
    ("study_day", "integer"), ("reactions", "text"),
))
#: Unblinded exports only: they reveal the dose arm.
_EX_UNBLINDED_ITEMS = tuple((key.upper(), key, kind) for key, kind in (
    ("cells", "integer"), ("volume_ml", "float"), ("weight_kg", "float"), ("lot", "text"),
))


def _q(tag: str) -> str:
    # Tags stay unqualified and the root declares the default namespace itself (``xmlns``): the
    # file reads as ODM-namespaced, without ET.register_namespace's process-wide prefix table.
    return tag


def _el(parent: ET.Element, tag: str, attrs: Mapping[str, Any] | None = None, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), {k: _text(v) for k, v in (attrs or {}).items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return " ".join(str(v) for v in value)
    return str(value)


def _start_tag(tag: str, attrs: Mapping[str, str]) -> str:
    return f"<{tag}{_attributes(attrs)}>"


def _serialized(element: ET.Element, level: int) -> str:
    """*element* as indented XML text at depth *level* of the document, on lines of its own."""
    ET.indent(element, space="  ", level=level)
    return "  " * level + ET.tostring(element, encoding="unicode") + "\n"


def _translated(parent: ET.Element, tag: str, en: str, zh: str | None = None) -> ET.Element:
    holder = _el(parent, tag)
    _el(holder, "TranslatedText", {XML_LANG: "en"}, en)
    if zh:
        _el(holder, "TranslatedText", {XML_LANG: "zh"}, zh)
    return holder


def _user_oid(user: str | None) -> str:
    return f"USR.{user or SYSTEM_USER}"


def _site_oid(site: str) -> str:
    return f"LOC.{site}"


def _form_oid(code: str) -> str:
    return f"F.{code.upper()}"


def _group_oid(code: str) -> str:
    return f"IG.{code.upper()}"


def _item_oid(code: str, key: str) -> str:
    return f"IT.{code.upper()}.{key}"


def _data_type(item: Item) -> str:
    return "integer" if all(isinstance(c.value, int) for c in item.choices) else "text"


class _Writer:
    def __init__(self, export: StudyExport) -> None:
        self.export = export
        self.texts = bilingual()
        self.study_oid = f"ST.{export.study_code}"
        self.mdv_oid = f"MDV.{export.protocol}"
        self.used = [instruments.get(code) for code in self._instrument_codes()]
        self.sites = {s.subject_code: s.site_code for s in export.subjects}
        #: CodeList OID of each (instrument, item key); items with the same choices share one.
        self.codelists: dict[tuple[str, str], str] = {}
        self.audit_by_entity: dict[tuple[str, str], list[AuditRecord]] = defaultdict(list)
        for row in export.audit:
            self.audit_by_entity[(row.entity, row.entity_id)].append(row)

    def _instrument_codes(self) -> list[str]:
        codes = list(self.export.instruments)
        for visit in self.export.visits:
            codes += visit.instruments
        codes += [r.instrument for r in self.export.responses]
        return list(dict.fromkeys(codes))

    # --- document -----------------------------------------------------------------------------
    def stream(self, out: TextIO) -> None:
        """Write the document to *out* one subject at a time, so memory holds one subject's
        elements, not the study's millions."""
        export = self.export
        attrs = {
            "xmlns": NS,
            "FileType": "Snapshot",
            "FileOID": f"EPRO.{export.study_code}.{export.generated_at.strftime('%Y%m%dT%H%M%SZ')}",
            "CreationDateTime": export.generated_at.isoformat(),
            "ODMVersion": "1.3.2",
            "Granularity": "All",
            "Originator": export.generated_by,
            "SourceSystem": "epro",
            "Description": f"{export.study_name} ({'unblinded' if export.unblinded else 'masked'} export)",
        }
        out.write("<?xml version='1.0' encoding='UTF-8'?>\n")
        out.write(_start_tag("ODM", attrs) + "\n")
        holder = ET.Element("holder")
        self.study(holder)
        self.admin(holder)
        for element in holder:
            out.write(_serialized(element, 1))
        out.write("  " + _start_tag("ClinicalData", {"StudyOID": self.study_oid,
                                                     "MetaDataVersionOID": self.mdv_oid}) + "\n")
        for text in self.clinical():
            out.write(text)
        out.write("  </ClinicalData>\n</ODM>\n")

    # --- metadata -----------------------------------------------------------------------------
    def rules_text(self) -> str:
        return "Derivation rules. " + " ".join(
            f"[{rule.code}] {rule.title}: {rule.text}" for rule in self.export.rules
        )

    def study(self, root: ET.Element) -> None:
        export = self.export
        study = _el(root, "Study", {"OID": self.study_oid})
        glob = _el(study, "GlobalVariables")
        _el(glob, "StudyName", text=export.study_name)
        _el(glob, "StudyDescription", text=f"{export.study_name} / {export.study_name_zh}")
        _el(glob, "ProtocolName", text=export.protocol)
        mdv = _el(study, "MetaDataVersion", {
            "OID": self.mdv_oid, "Name": f"{export.protocol} ({export.generated_at.date().isoformat()})",
            "Description": self.rules_text(),
        })
        protocol = _el(mdv, "Protocol")
        _translated(protocol, "Description", self.rules_text())
        # Responses may name a visit or an instrument the plan does not (an unscheduled visit, a
        # protocol amended since): they get an unscheduled event or an optional form reference.
        answered: dict[str, list[str]] = defaultdict(list)
        for response in export.responses:
            answered[response.visit].append(response.instrument)
        planned = {v.code for v in export.visits}
        extra = [code for code in answered if code not in planned]
        events = [v.code for v in export.visits] + extra
        for n, code in enumerate(events, start=1):
            _el(protocol, "StudyEventRef", {"StudyEventOID": f"SE.{code}", "OrderNumber": n,
                                            "Mandatory": "Yes" if code in planned else "No"})
        _el(protocol, "StudyEventRef", {"StudyEventOID": SUBJECT_EVENT, "OrderNumber": len(events) + 1,
                                        "Mandatory": "Yes"})
        for visit in export.visits:
            en, zh = self.texts.visit(visit.code, visit.months)
            event = _el(mdv, "StudyEventDef", {"OID": f"SE.{visit.code}", "Name": en, "Repeating": "No",
                                               "Type": "Scheduled"})
            _translated(event, "Description", *self.texts.window(visit))
            self._form_refs(event, visit.instruments, answered.get(visit.code, ()))
        for code in extra:
            en, zh = self.texts.visit(code)
            event = _el(mdv, "StudyEventDef", {"OID": f"SE.{code}", "Name": en, "Repeating": "No",
                                               "Type": "Unscheduled"})
            _translated(event, "Description", en, zh)
            self._form_refs(event, (), answered[code])
        event = _el(mdv, "StudyEventDef", {"OID": SUBJECT_EVENT, "Name": "Subject", "Repeating": "No",
                                           "Type": "Common"})
        _translated(event, "Description", *self.texts.label("subject"))
        for n, form in enumerate(("F.DM", "F.AE", "F.EX"), start=1):
            _el(event, "FormRef", {"FormOID": form, "OrderNumber": n, "Mandatory": "Yes" if n == 1 else "No"})
        self.forms(mdv)
        self.groups(mdv)
        self.items(mdv)
        self.codelist_defs(mdv)

    def _form_refs(self, event: ET.Element, planned: Sequence[str], answered: Iterable[str]) -> None:
        codes = list(dict.fromkeys([*planned, *answered]))
        for n, code in enumerate(codes, start=1):
            _el(event, "FormRef", {"FormOID": _form_oid(code), "OrderNumber": n,
                                   "Mandatory": "Yes" if code in planned else "No"})

    def forms(self, mdv: ET.Element) -> None:
        for inst in self.used:
            form = _el(mdv, "FormDef", {"OID": _form_oid(inst.code), "Name": inst.name, "Repeating": "Yes"})
            _translated(form, "Description", *self.texts.pair(inst.name))
            for n, oid in enumerate((_group_oid(inst.code), f"{_group_oid(inst.code)}.SCORE", "IG.RESPONSE"), 1):
                _el(form, "ItemGroupRef", {"ItemGroupOID": oid, "OrderNumber": n, "Mandatory": "Yes"})
            panel = confirmed_loinc(inst.loinc_panel)
            if panel:
                _el(form, "Alias", {"Context": "LOINC", "Name": panel})
        for oid, name, label, repeating in (("F.DM", "Subject", "subject", "No"),
                                            ("F.AE", "Adverse event", "adverse_event", "Yes"),
                                            ("F.EX", "Infusion", "infusion", "Yes")):
            form = _el(mdv, "FormDef", {"OID": oid, "Name": name, "Repeating": repeating})
            _translated(form, "Description", *self.texts.label(label))
            _el(form, "ItemGroupRef", {"ItemGroupOID": oid.replace("F.", "IG.", 1), "OrderNumber": 1,
                                       "Mandatory": "Yes"})

    def _group(self, mdv: ET.Element, oid: str, name: str, item_oids: Iterable[str],
               domain: str | None = None, description: tuple[str, str] | None = None) -> ET.Element:
        group = _el(mdv, "ItemGroupDef", {"OID": oid, "Name": name, "Repeating": "No", "Domain": domain})
        if description:
            _translated(group, "Description", *description)
        for n, item_oid in enumerate(item_oids, start=1):
            _el(group, "ItemRef", {"ItemOID": item_oid, "OrderNumber": n, "Mandatory": "Yes"})
        return group

    def groups(self, mdv: ET.Element) -> None:
        for inst in self.used:
            group = self._group(mdv, _group_oid(inst.code), inst.short_name,
                                (_item_oid(inst.code, item.key) for item in inst.items),
                                domain="QS", description=self.texts.pair(inst.name))
            if inst.code == "gds15":
                _el(group, "Alias", {"Context": "SDTM QSCAT", "Name": "GDS SHORT FORM"})
            self._group(mdv, f"{_group_oid(inst.code)}.SCORE", f"{inst.short_name} score",
                        (_item_oid(inst.code, "TOTAL"), _item_oid(inst.code, "CHANGE")),
                        description=self.texts.label("total"))
        self._group(mdv, "IG.RESPONSE", "Response", (f"IT.RESPONSE.{key}" for key, _, _ in _RESPONSE_ITEMS),
                    description=self.texts.label("response"))
        dm = list(_DM_ITEMS) + (list(_ARM_ITEMS) if self.export.unblinded else [])
        self._group(mdv, "IG.DM", "Subject", (f"IT.DM.{key}" for key, _, _ in dm), domain="DM",
                    description=self.texts.label("subject"))
        self._group(mdv, "IG.AE", "Adverse event", (f"IT.AE.{key}" for key, _, _ in _AE_ITEMS), domain="AE",
                    description=self.texts.label("adverse_event"))
        ex = list(_EX_ITEMS) + (list(_EX_UNBLINDED_ITEMS) if self.export.unblinded else [])
        self._group(mdv, "IG.EX", "Infusion", (f"IT.EX.{key}" for key, _, _ in ex), domain="EX",
                    description=self.texts.label("infusion"))

    def _item_def(self, mdv: ET.Element, oid: str, name: str, data_type: str, question: tuple[str, str | None],
                  origin: str | None = None, codelist: str | None = None,
                  aliases: Sequence[tuple[str, str]] = ()) -> None:
        item = _el(mdv, "ItemDef", {"OID": oid, "Name": name, "DataType": data_type, "Origin": origin})
        _translated(item, "Question", *question)
        if codelist:
            _el(item, "CodeListRef", {"CodeListOID": codelist})
        for context, alias in aliases:
            _el(item, "Alias", {"Context": context, "Name": alias})

    def items(self, mdv: ET.Element) -> None:
        seen_choices: dict[tuple[tuple[object, str], ...], str] = {}
        for inst in self.used:
            for item in inst.items:
                signature = tuple((type(c.value).__name__ + ":" + str(c.value), c.label) for c in item.choices)
                codelist = seen_choices.setdefault(signature, f"CL.{inst.code.upper()}.{item.key}")
                self.codelists[(inst.code, item.key)] = codelist
                aliases = []
                loinc = confirmed_loinc(item.loinc)
                if loinc:
                    aliases.append(("LOINC", loinc))
                if inst.code == "gds15":
                    aliases.append(("SDTM QSTESTCD", item.key))
                self._item_def(mdv, _item_oid(inst.code, item.key), item.key, _data_type(item),
                               self.texts.pair(item.text), origin="CRF", codelist=codelist, aliases=aliases)
            total_loinc = confirmed_loinc(inst.loinc)
            en, zh = self.texts.label("total")
            self._item_def(mdv, _item_oid(inst.code, "TOTAL"), f"{inst.short_name} total", "integer",
                           (f"{inst.short_name}: {en}", f"{inst.short_name}：{zh}"), origin="Derived",
                           aliases=[("LOINC", total_loinc)] if total_loinc else ())
            en, zh = self.texts.label("change")
            self._item_def(mdv, _item_oid(inst.code, "CHANGE"), f"{inst.short_name} change", "integer",
                           (f"{inst.short_name}: {en}", f"{inst.short_name}：{zh}"), origin="Derived")
        for key, label, data_type in _RESPONSE_ITEMS:
            self._item_def(mdv, f"IT.RESPONSE.{key}", key, data_type, self.texts.label(label),
                           origin="Derived" if key in ("COUNTS", "ANALYSIS_FLAGS") else "eDT")
        dm = list(_DM_ITEMS) + (list(_ARM_ITEMS) if self.export.unblinded else [])
        for key, label, data_type in dm:
            self._item_def(mdv, f"IT.DM.{key}", key, data_type, self.texts.label(label))
        for key, label, data_type in _AE_ITEMS:
            self._item_def(mdv, f"IT.AE.{key}", key, data_type, self.texts.label(label))
        ex = list(_EX_ITEMS) + (list(_EX_UNBLINDED_ITEMS) if self.export.unblinded else [])
        for key, label, data_type in ex:
            self._item_def(mdv, f"IT.EX.{key}", key, data_type, self.texts.label(label))

    def codelist_defs(self, mdv: ET.Element) -> None:
        written: set[str] = set()
        for inst in self.used:
            for item in inst.items:
                oid = self.codelists[(inst.code, item.key)]
                if oid in written:
                    continue
                written.add(oid)
                codelist = _el(mdv, "CodeList", {"OID": oid, "Name": f"{inst.short_name} {item.key}",
                                                 "DataType": _data_type(item)})
                for n, choice in enumerate(item.choices, start=1):
                    entry = _el(codelist, "CodeListItem", {"CodedValue": str(choice.value), "OrderNumber": n,
                                                           "Rank": choice.score})
                    _translated(entry, "Decode", *self.texts.pair(choice.label))

    # --- administrative data ------------------------------------------------------------------
    def users(self) -> list[str]:
        export = self.export
        names: list[str | None] = [export.generated_by]
        for r in export.responses:
            names += [r.entered_by, r.rater, r.signed_by]
        names += [a.user for a in export.audit]
        names.append(SYSTEM_USER)
        return sorted({n for n in names if n})

    def admin(self, root: ET.Element) -> None:
        admin = _el(root, "AdminData", {"StudyOID": self.study_oid})
        for name in self.users():
            user = _el(admin, "User", {"OID": _user_oid(name)})
            _el(user, "LoginName", text=name)
        sites = sorted({s.site_code for s in self.export.subjects})
        for oid, name, kind in [(_site_oid(s), s, "Site") for s in sites] + [(SPONSOR_LOCATION, "Sponsor", "Sponsor")]:
            location = _el(admin, "Location", {"OID": oid, "Name": name, "LocationType": kind})
            _el(location, "MetaDataVersionRef", {"StudyOID": self.study_oid, "MetaDataVersionOID": self.mdv_oid,
                                                 "EffectiveDate": self.export.generated_at.date()})
        definition = _el(admin, "SignatureDef", {"OID": SIGNATURE_DEF, "Methodology": "Electronic"})
        _el(definition, "Meaning", text="Investigator's signature of a clinician rating")
        _el(definition, "LegalReason", text="Signed in epro after re-entering the password")

    # --- clinical data ------------------------------------------------------------------------
    # Written as text (:class:`_Xml`), not as ElementTree elements: a 2,500-patient study has
    # 1.7 million of them, and building and serialising them took most of the export's time.
    def _audit(self, x: _Xml, depth: int, user: str | None, site: str | None, at: datetime,
               reason: str | None, source: str, record_id: str | None = None) -> None:
        x.open(depth, "AuditRecord", {"ID": record_id} if record_id else None)
        x.empty(depth + 1, "UserRef", {"UserOID": _user_oid(user)})
        x.empty(depth + 1, "LocationRef", {"LocationOID": _site_oid(site) if site else SPONSOR_LOCATION})
        x.text(depth + 1, "DateTimeStamp", at.isoformat())
        if reason:
            x.text(depth + 1, "ReasonForChange", reason)
        x.text(depth + 1, "SourceID", source)
        x.close(depth, "AuditRecord")

    def _latest(self, entity: str, entity_id: str, field: str | None = None) -> AuditRecord | None:
        rows = [a for a in self.audit_by_entity.get((entity, entity_id), ()) if field is None or a.field == field]
        return max(rows, key=lambda a: a.at) if rows else None

    def _response_audit(self, x: _Xml, depth: int, response: ResponseRecord, field: str | None = None) -> None:
        site = self.sites.get(response.subject_code)
        row = self._latest("responses", response.response_id, field) if field else None
        if row is None:
            row = self._latest("responses", response.response_id)
        if row is not None:
            source = f"{row.entity}/{row.entity_id}" + (f"#{row.field}" if row.field else "")
            self._audit(x, depth, row.user, site, row.at, row.reason, source)
        else:
            self._audit(x, depth, response.entered_by, site, response.completed_at, None,
                        f"responses/{response.response_id}")

    def _derived_audit(self, x: _Xml, depth: int, response: ResponseRecord) -> None:
        """Derived values (score, counts, flags) are epro's, computed when the export was made."""
        self._audit(x, depth, SYSTEM_USER, self.sites.get(response.subject_code), self.export.generated_at, None,
                    f"derived/responses/{response.response_id}")

    @functools.cache  # noqa: B019 (one writer per export)
    def _item_oids(self, inst: Instrument) -> tuple[tuple[str, str], ...]:
        """(item key, ItemOID) of the instrument's items, in order."""
        return tuple((item.key, _item_oid(inst.code, item.key)) for item in inst.items)

    @functools.cache  # noqa: B019 (one writer per export)
    def _item_keys(self, inst: Instrument) -> frozenset[str]:
        return frozenset(key for key, _oid in self._item_oids(inst))

    def _group_data(self, x: _Xml, depth: int, oid: str, oid_prefix: str, values: Sequence[tuple[str, object]],
               audit: Callable[[], None] | None = None) -> None:
        """An ``ItemGroupData`` of *values* (empty ones ``IsNull``), after its audit record if any."""
        x.open(depth, "ItemGroupData", {"ItemGroupOID": oid})
        if audit is not None:
            audit()
        for key, value in values:
            if value is None or value == ():
                x.empty(depth + 1, "ItemData", {"ItemOID": f"{oid_prefix}.{key}", "IsNull": "Yes"})
            else:
                x.empty(depth + 1, "ItemData", {"ItemOID": f"{oid_prefix}.{key}", "Value": _text(value)})
        x.close(depth, "ItemGroupData")

    def clinical(self) -> Iterator[str]:
        """The text of ``ClinicalData``'s children, one ``SubjectData`` at a time, then the trail."""
        export = self.export
        by_subject: dict[str, list[ResponseRecord]] = defaultdict(list)
        for response in export.responses:
            by_subject[response.subject_code].append(response)
        visit_order = {v.code: n for n, v in enumerate(export.visits)}
        for subject in export.subjects:
            x = _Xml()
            x.open(2, "SubjectData", {"SubjectKey": subject.subject_code})
            x.empty(3, "SiteRef", {"LocationOID": _site_oid(subject.site_code)})
            responses = sorted(by_subject.get(subject.subject_code, ()),
                               key=lambda r: (visit_order.get(r.visit, len(visit_order)), r.visit, r.completed_at))
            by_visit: dict[str, list[ResponseRecord]] = defaultdict(list)
            for response in responses:
                by_visit[response.visit].append(response)
            for visit, rows in by_visit.items():
                x.open(3, "StudyEventData", {"StudyEventOID": f"SE.{visit}"})
                repeat: dict[str, int] = defaultdict(int)
                for response in rows:
                    repeat[response.instrument] += 1
                    self.form(x, 4, response, repeat[response.instrument])
                x.close(3, "StudyEventData")
            self.subject_event(x, 3, subject)
            x.close(2, "SubjectData")
            yield x.value()
        x = _Xml()
        self.trail(x, 2)
        yield x.value()

    def form(self, x: _Xml, depth: int, response: ResponseRecord, repeat_key: int) -> None:
        inst: Instrument = instruments.get(response.instrument)
        x.open(depth, "FormData", {"FormOID": _form_oid(inst.code), "FormRepeatKey": repeat_key})
        inner = depth + 1
        self._response_audit(x, inner, response)
        if response.signed_by and response.signed_at:
            site = self.sites.get(response.subject_code)
            x.open(inner, "Signature")
            x.empty(inner + 1, "UserRef", {"UserOID": _user_oid(response.signed_by)})
            x.empty(inner + 1, "LocationRef", {"LocationOID": _site_oid(site) if site else SPONSOR_LOCATION})
            x.empty(inner + 1, "SignatureRef", {"SignatureOID": SIGNATURE_DEF})
            x.text(inner + 1, "DateTimeStamp", response.signed_at.isoformat())
            x.close(inner, "Signature")
        x.open(inner, "ItemGroupData", {"ItemGroupOID": _group_oid(inst.code)})
        changed = {a.field for a in self.audit_by_entity.get(("responses", response.response_id), ()) if a.field}
        answers = response.answers
        pad = _PAD[inner + 1]
        for key, oid in self._item_oids(inst):
            if key not in answers:
                continue
            if key in changed:  # changed since entry: its own record (else the form's applies)
                x.open(inner + 1, "ItemData", {"ItemOID": oid, "Value": answers[key]})
                self._response_audit(x, inner + 2, response, field=key)
                x.close(inner + 1, "ItemData")
            else:  # the hot path: 400,000 of these for 2,500 patients
                value = answers[key]
                text = str(value) if type(value) is int else _attribute(_text(value))
                x.parts.append(f'{pad}<ItemData ItemOID="{oid}" Value="{text}" />\n')
        known = self._item_keys(inst)
        for key in [k for k in answers if k not in known]:  # items the definition no longer has
            x.empty(inner + 1, "ItemData", {"ItemOID": _item_oid(inst.code, key), "Value": _text(answers[key])})
        x.close(inner, "ItemGroupData")
        self._group_data(x, inner, f"{_group_oid(inst.code)}.SCORE", f"IT.{inst.code.upper()}",
                    [("TOTAL", response.total), ("CHANGE", response.change_from_baseline)],
                    lambda: self._derived_audit(x, inner + 1, response))
        self._group_data(x, inner, "IG.RESPONSE", "IT.RESPONSE", [
            ("RESPONSE_ID", response.response_id), ("RESPONDENT", response.respondent),
            ("COUNTS", response.counts), ("FLAGS", response.flags), ("ANALYSIS_FLAGS", response.analysis_flags),
            ("COMPLETED_AT", response.completed_at), ("RECEIVED_AT", response.received_at),
            ("STUDY_DAY", response.study_day), ("RATER", response.rater), ("SIGNED_BY", response.signed_by),
            ("VERSION", response.version),
        ], lambda: self._derived_audit(x, inner + 1, response))
        x.close(depth, "FormData")

    def subject_event(self, x: _Xml, depth: int, subject: Subject) -> None:
        export = self.export
        form, group = depth + 1, depth + 2
        x.open(depth, "StudyEventData", {"StudyEventOID": SUBJECT_EVENT})
        x.open(form, "FormData", {"FormOID": "F.DM"})
        self._audit(x, group, export.generated_by, subject.site_code, export.generated_at, None,
                    f"patients/{subject.subject_code}")
        values: list[tuple[str, object]] = [
            ("SEX", subject.sex), ("BIRTH_YEAR", subject.birth_year), ("EDUCATION", subject.education),
            ("LANGUAGE", subject.language), ("DAY0", subject.day0), ("ENROLLED_ON", subject.enrolled_on),
            ("DISPOSITION", subject.disposition), ("DISPOSITION_ON", subject.disposition_on),
            ("DEATH_DATE", subject.death_date),
        ]
        if export.unblinded:
            values += [("ARM", subject.arm_code), ("ARM_LABEL", subject.arm_label)]
        self._group_data(x, group, "IG.DM", "IT.DM", values)
        x.close(form, "FormData")
        aes = [ae for ae in export.adverse_events if ae.subject_code == subject.subject_code]
        for n, ae in enumerate(sorted(aes, key=lambda a: (a.onset, a.ae_id)), start=1):
            x.open(form, "FormData", {"FormOID": "F.AE", "FormRepeatKey": n})
            row = self._latest("adverse_events", str(ae.ae_id))
            self._audit(x, group, row.user if row else SYSTEM_USER, subject.site_code,
                        row.at if row else ae.aware_at, row.reason if row else None, f"adverse_events/{ae.ae_id}")
            self._group_data(x, group, "IG.AE", "IT.AE", [
                ("AE_ID", ae.ae_id), ("TERM", ae.term), ("ONSET", ae.onset), ("END", ae.end), ("GRADE", ae.grade),
                ("SERIOUS", ae.serious), ("SERIOUS_CRITERIA", ae.serious_criteria),
                ("RELATEDNESS", ae.relatedness), ("ACTION", ae.action), ("OUTCOME", ae.outcome),
                ("AWARE_AT", ae.aware_at), ("REPORTED_AT", ae.reported_at),
            ])
            x.close(form, "FormData")
        infusions = [i for i in export.infusions if i.subject_code == subject.subject_code]
        for n, infusion in enumerate(sorted(infusions, key=lambda i: (i.number, i.infusion_id)), start=1):
            x.open(form, "FormData", {"FormOID": "F.EX", "FormRepeatKey": n})
            row = self._latest("infusions", str(infusion.infusion_id))
            self._audit(x, group, row.user if row else SYSTEM_USER, subject.site_code,
                        row.at if row else infusion.given_at, row.reason if row else None,
                        f"infusions/{infusion.infusion_id}")
            values = [
                ("INFUSION_ID", infusion.infusion_id), ("NUMBER", infusion.number), ("GIVEN_AT", infusion.given_at),
                ("GIVEN_ON", infusion.given_on), ("STUDY_DAY", infusion.study_day),
                ("REACTIONS", infusion.reactions or None),
            ]
            if export.unblinded:
                values += [("CELLS", infusion.cells), ("VOLUME_ML", infusion.volume_ml),
                           ("WEIGHT_KG", infusion.weight_kg), ("LOT", infusion.lot)]
            self._group_data(x, group, "IG.EX", "IT.EX", values)
            x.close(form, "FormData")
        x.close(depth, "StudyEventData")

    def trail(self, x: _Xml, depth: int) -> None:
        """Every audit row, in time order, with what changed as an annotation of the same number."""
        rows = sorted(self.export.audit, key=lambda a: a.at)
        if not rows:
            return
        x.open(depth, "AuditRecords")
        for n, row in enumerate(rows, start=1):
            site = self.sites.get(row.subject_code) if row.subject_code else None
            source = f"{row.entity}/{row.entity_id}" + (f"#{row.field}" if row.field else "")
            self._audit(x, depth + 1, row.user, site, row.at, row.reason, source, record_id=f"AR.{n}")
        x.close(depth, "AuditRecords")
        x.open(depth, "Annotations")
        for n, row in enumerate(rows, start=1):
            x.open(depth + 1, "Annotation", {"SeqNum": n, "ID": f"AN.{n}"})
            change = f"AR.{n}: {row.action} {row.entity}/{row.entity_id}"
            if row.subject_code:
                change += f" (subject {row.subject_code})"
            if row.field:
                change += f" {row.field}"
            if row.old_value is not None or row.new_value is not None:
                change += f": {row.old_value if row.old_value is not None else '∅'} → " \
                          f"{row.new_value if row.new_value is not None else '∅'}"
            x.text(depth + 2, "Comment", change, {"SponsorOrSite": "Site"})
            x.close(depth + 1, "Annotation")
        x.close(depth, "Annotations")


class _Xml:
    """Indented XML text, element by element: cheaper by far than element objects when
    there are millions of them.  Text and attribute values are escaped here."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def open(self, depth: int, tag: str, attrs: Mapping[str, Any] | None = None) -> None:
        self.parts.append(f"{_PAD[depth]}<{tag}{_attributes(attrs)}>\n")

    def close(self, depth: int, tag: str) -> None:
        self.parts.append(f"{_PAD[depth]}</{tag}>\n")

    def empty(self, depth: int, tag: str, attrs: Mapping[str, Any]) -> None:
        self.parts.append(f"{_PAD[depth]}<{tag}{_attributes(attrs)} />\n")

    def text(self, depth: int, tag: str, text: str, attrs: Mapping[str, Any] | None = None) -> None:
        self.parts.append(f"{_PAD[depth]}<{tag}{_attributes(attrs)}>{escape(text)}</{tag}>\n")

    def value(self) -> str:
        return "".join(self.parts)


_PAD = tuple("  " * n for n in range(16))
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_NEEDS_ESCAPE = re.compile(r'[&<>"\n\r\t]')


def _attributes(attrs: Mapping[str, Any] | None) -> str:
    if not attrs:
        return ""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        parts.append(f' {name}="{_attribute(_text(value))}"')
    return "".join(parts)


def _attribute(text: str) -> str:
    """*text* escaped for a double-quoted attribute value."""
    return escape(text, _ATTRIBUTE_ENTITIES) if _NEEDS_ESCAPE.search(text) else text


def write(export: StudyExport, out: pathlib.Path) -> dict[str, int]:
    """Write ``out/odm.xml``; return what it holds (for the export log)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / FILENAME).open("w", encoding="utf-8") as file:
        _Writer(export).stream(file)
    return {
        "subjects": len(export.subjects),
        "forms": len(export.responses),
        "items": sum(len(r.answers) for r in export.responses),
        "adverse_events": len(export.adverse_events),
        "infusions": len(export.infusions),
        "audit_records": len(export.audit),
    }
