"""Defensive normalisation of raw FHIR R4 JSON into the few facts the rules read.

Nothing here trusts the shape of the input: any field may be missing or of the wrong type. A
resource that cannot be read is skipped and reported as a :class:`DataQualityNote` (never with a
lab value in the message); a resource the rules do not read (an unrelated code) is skipped
silently. Units are converted to one canonical unit per analyte with the ruleset's table; an
unknown unit makes the value unusable and is reported: a unit is never guessed.

The one assumption made (documented in docs/clinical-rules.md): a ``referenceRange.high``
without a unit is read in the unit of the observation's own value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from cds_service.clinical.model import DataQualityNote, Evidence, PatientData, PatientSummary
from cds_service.clinical.ruleset import AnalyteCode, CodeIndex, Ruleset, UnitConversion, UnitKind

USABLE_OBSERVATION_STATUSES = frozenset({"final", "amended", "corrected"})
SILENT_OBSERVATION_STATUSES = frozenset({"entered-in-error", "cancelled"})
ACTIVE_CLINICAL_STATUSES = frozenset({"active", "recurrence", "relapse"})
EXCLUDED_VERIFICATION_STATUSES = frozenset({"refuted", "entered-in-error"})
ACTIVE_MEDICATION_STATUSES = frozenset({"active"})
DONE_PROCEDURE_STATUSES = frozenset({"completed", "in-progress"})
VIRAL_LOADS = frozenset({"hbv-dna", "hcv-rna"})
#: Analytes whose lab reference range the rules read (ULN / normal limits); others skip parsing it.
RANGE_ANALYTES = frozenset({"alt", "ast", "ggt", "alp", "bilirubin", "albumin", "inr", "pt"})
_ROUND_DIGITS = 6  # converted values are rounded so SI and conventional inputs agree exactly
_CENSORED = re.compile(r"^\s*(<=|>=|<|>|≤|≥)\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)")
_COMPARATORS = {"≤": "<=", "≥": ">="}


# --- times ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FhirTime:
    """A FHIR date/dateTime/instant as the interval it denotes ("2024" is the whole year)."""

    start: datetime
    end: datetime
    display: date | datetime


def parse_fhir_time(value: object) -> FhirTime | None:
    if not isinstance(value, str):
        return None
    return _parse_time_text(value) if len(value) <= _MAX_TIME_TEXT else None


_MAX_TIME_TEXT = 40


@lru_cache(maxsize=4096)  # panels share timestamps; FhirTime is immutable
def _parse_time_text(value: str) -> FhirTime | None:
    text = value.strip()
    try:
        if len(text) == 4 and text.isdigit():
            year = int(text)
            start = datetime(year, 1, 1, tzinfo=UTC)
            end = datetime(year + 1, 1, 1, tzinfo=UTC) if year < 9999 else start
            return FhirTime(start, end - timedelta(microseconds=1), date(year, 1, 1))
        if len(text) == 7 and text[4] == "-":
            year, month = int(text[:4]), int(text[5:7])
            start = datetime(year, month, 1, tzinfo=UTC)
            nxt = (
                datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
                if year < 9999
                else start
            )
            return FhirTime(start, nxt - timedelta(microseconds=1), date(year, month, 1))
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return FhirTime(start, start + timedelta(days=1, microseconds=-1), day)
        if len(text) < 10:
            return None
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(
            tzinfo=UTC
        )  # FHIR requires a zone with a time; read a missing one as UTC
    try:
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return FhirTime(moment, moment, moment)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- facts ----------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)  # internal and per-request: plain slots construct fastest
class LabResult:
    """One usable Observation, value in the analyte's canonical unit."""

    analyte: str
    ref: str | None
    token: str
    when: datetime  # start of the effective time (UTC)
    display_when: date | datetime
    value: float | None  # canonical unit; None when only detected / not detected is known
    unit: str | None
    comparator: str | None  # "<", "<=", ">", ">=" for censored results
    detected: bool | None  # qualitative answer or viral-load detectability
    original_value: float | None
    original_unit: str | None
    value_text: str | None
    label: str = ""  # the analyte's clinician-facing name
    raw_range: object = None  # Observation.referenceRange, converted on first use
    units: UnitKind | None = None
    normaliser: Normaliser | None = None
    _range: tuple[float | None, float | None] | None = None
    _plain: Evidence | None = None  # memoised evidence(label) without a note

    @property
    def ref_low(self) -> float | None:
        return self.reference_range()[0]

    @property
    def ref_high(self) -> float | None:
        """The lab's upper reference limit in the canonical unit (ULN), if reported."""
        return self.reference_range()[1]

    def reference_range(self) -> tuple[float | None, float | None]:
        # Lazy: most results' ranges are never read (only the newest ones are).
        if self._range is None:
            if self.normaliser is None or self.units is None:
                self._range = (None, None)
            else:
                self._range = self.normaliser.reference_range(
                    self.raw_range, self.units, self.original_unit
                )
        return self._range

    def evidence(self, label: str | None = None, note: str | None = None) -> Evidence:
        """This result as evidence; the plain form is built once and shared (scores reuse it)."""
        if note is None and (label is None or label == self.label):
            if self._plain is None:
                self._plain = self._build(self.label, None)
            return self._plain
        return self._build(label or self.label, note)

    def _build(self, label: str, note: str | None) -> Evidence:
        converted = self.original_unit is not None and self.original_unit != self.unit
        return Evidence(
            label=label,
            resource_ref=self.ref,
            code=self.token,
            value=self.value,
            unit=self.unit,
            value_text=self.value_text,
            original_value=self.original_value if converted else None,
            original_unit=self.original_unit if converted else None,
            effective=self.display_when,
            note=note,
        )


@dataclass(slots=True, eq=False)  # internal and per-request: plain slots construct fastest
class ConditionFact:
    concepts: frozenset[str]
    ref: str | None
    token: str
    display: str | None
    active: bool
    onset: FhirTime | None
    abatement: FhirTime | None
    recorded: FhirTime | None

    @property
    def latest(self) -> datetime | None:
        """The latest moment the condition is known to have been present (for look-backs).

        The latest of abatement, onset and recorded date: erring towards "recent" keeps a
        resolved exclusion (cancer, decompensation) inside the 12-month look-back when unsure.
        """
        known = [t.end for t in (self.abatement, self.onset, self.recorded) if t is not None]
        return max(known) if known else None

    @property
    def earliest(self) -> datetime | None:
        for known in (self.onset, self.recorded):
            if known is not None:
                return known.start
        return None

    def evidence(self, label: str, note: str | None = None) -> Evidence:
        shown = self.onset or self.recorded
        return Evidence(
            label=label,
            resource_ref=self.ref,
            code=self.token,
            value_text=self.display,
            effective=shown.display if shown is not None else None,
            note=note,
        )


@dataclass(slots=True, eq=False)  # internal and per-request: plain slots construct fastest
class MedicationFact:
    concepts: frozenset[str]
    ref: str | None
    token: str
    display: str | None
    active: bool
    start: datetime | None
    start_display: date | datetime | None

    def evidence(self, label: str, note: str | None = None) -> Evidence:
        return Evidence(
            label=label,
            resource_ref=self.ref,
            code=self.token,
            value_text=self.display,
            effective=self.start_display,
            note=note,
        )


@dataclass(slots=True, eq=False)  # internal and per-request: plain slots construct fastest
class ProcedureFact:
    concepts: frozenset[str]
    ref: str | None
    token: str
    when: FhirTime

    def evidence(self, label: str) -> Evidence:
        return Evidence(
            label=label, resource_ref=self.ref, code=self.token, effective=self.when.display
        )


@dataclass(slots=True)
class Facts:
    """Everything normalised from one PatientData, indexed for the rules."""

    patient: PatientSummary
    labs: dict[str, list[LabResult]] = field(default_factory=dict)  # newest first
    conditions: dict[str, list[ConditionFact]] = field(default_factory=dict)
    medications: dict[str, list[MedicationFact]] = field(default_factory=dict)
    procedures: dict[str, list[ProcedureFact]] = field(default_factory=dict)
    notes: list[DataQualityNote] = field(default_factory=list)


# --- helpers --------------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _ref(resource_type: str, resource: Mapping[str, Any]) -> str | None:
    rid = resource.get("id")
    return f"{resource_type}/{rid}" if isinstance(rid, str) and rid else None


def _codings(concept: object, need_system: bool = True) -> list[tuple[str, str, str | None]]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    out = []
    for coding in codings:
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            if not need_system and system is None:
                system = ""
            if isinstance(system, str) and isinstance(code, str) and code:
                display = coding.get("display")
                out.append((system, code, display if isinstance(display, str) else None))
    return out


def _status_code(concept: object) -> str | None:
    """First code of a CodeableConcept status (Condition.clinicalStatus etc.)."""
    for _system, code, _display in _codings(concept, need_system=False):
        return code
    return None


def _match_concepts(
    rules: Ruleset, index: CodeIndex, concept: object
) -> tuple[frozenset[str], str, str | None]:
    found: frozenset[str] = frozenset()
    token = ""
    display: str | None = None
    for system, code, coding_display in _codings(concept):
        uri = rules.system(system)
        matched = index.concepts(uri, code)
        if matched:
            found = found | matched
            if not token:
                token, display = f"{uri}|{code}", coding_display
    if found and isinstance(concept, dict):
        text = concept.get("text")
        if isinstance(text, str) and text.strip():
            display = text.strip()
    return found, token, display


# --- normalisation --------------------------------------------------------------------------------


class Normaliser:
    def __init__(self, rules: Ruleset) -> None:
        self.rules = rules
        self._conversions: dict[
            tuple[str, str | None, str | None], UnitConversion | _Unseen | None
        ] = {}

    def facts(self, data: PatientData, now: datetime) -> Facts:
        fetched: object = data.fetch_notes
        notes: list[DataQualityNote] = (
            [n for n in fetched if isinstance(n, DataQualityNote)]
            if isinstance(fetched, tuple | list)
            else []
        )
        facts = Facts(patient=self.patient(data.patient, now, notes), notes=notes)
        self._each(data.observations, "Observation", self.observation, facts)
        for labs in facts.labs.values():
            # Newest first; ties broken by resource id and value so input order never matters.
            labs.sort(key=_newest_first, reverse=True)
        self._each(data.conditions, "Condition", self.condition, facts)
        self._each(
            data.medications, "MedicationRequest/MedicationStatement", self.medication, facts
        )
        self._each(data.procedures, "Procedure", self.procedure, facts)
        return facts

    def _each(
        self,
        items: object,
        kind: str,
        read: Callable[[Mapping[str, Any], Facts], None],
        facts: Facts,
    ) -> None:
        """Read every resource of one kind; a resource that cannot be read is skipped.

        The readers are written defensively field by field; this guard is the last line
        so that one shape nobody foresaw costs one resource (reported), never the hook.
        """
        for resource in _as_list(items, kind, facts.notes):
            try:
                read(resource, facts)
            except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
                facts.notes.append(
                    DataQualityNote(
                        "malformed-resource",
                        f"A {kind} resource could not be read: skipped.",
                        _ref(kind.split("/")[0], resource),
                    )
                )

    # Patient -----------------------------------------------------------------------------------
    def patient(
        self, patient: object, now: datetime, notes: list[DataQualityNote]
    ) -> PatientSummary:
        if isinstance(patient, Mapping) and not isinstance(patient, dict):
            patient = dict(patient)
        if not isinstance(patient, dict):
            if patient is not None:
                notes.append(
                    DataQualityNote("malformed-resource", "Patient resource is not a JSON object.")
                )
            notes.append(
                DataQualityNote("missing-patient", "No Patient resource: age and sex unknown.")
            )
            return PatientSummary(None, None, None)
        ref = _ref("Patient", patient)
        gender = patient.get("gender")
        sex = gender if gender in ("male", "female") else None
        age: int | None = None
        birth = parse_fhir_time(patient.get("birthDate"))
        if birth is None:
            notes.append(
                DataQualityNote(
                    "missing-birth-date",
                    "Patient birth date missing or unreadable: age unknown.",
                    ref,
                )
            )
        else:
            if isinstance(birth.display, datetime) or len(str(patient.get("birthDate"))) < 10:
                notes.append(
                    DataQualityNote(
                        "partial-birth-date",
                        "Patient birth date is partial: age counted from its first day.",
                        ref,
                    )
                )
            born = birth.start.date()
            today = as_utc(now).date()
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            if age < 0:
                notes.append(
                    DataQualityNote(
                        "implausible-birth-date",
                        "Patient birth date is after the evaluation date.",
                        ref,
                    )
                )
                age = None
        if sex is None:
            notes.append(
                DataQualityNote(
                    "sex-unknown",
                    "Patient sex not recorded as male or female: the sex-specific ALT limit is "
                    "unavailable.",
                    ref,
                )
            )
        return PatientSummary(ref, age, sex)

    # Observation -------------------------------------------------------------------------------
    def observation(self, obs: Mapping[str, Any], facts: Facts) -> None:
        concept = obs.get("code")
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not isinstance(codings, list):
            return
        index = self.rules.observation_index
        aliases = self.rules.system_aliases
        match: AnalyteCode | None = None
        for coding in codings:
            if isinstance(coding, dict):
                system, code = coding.get("system"), coding.get("code")
                if isinstance(system, str) and isinstance(code, str):
                    match = index.get((aliases.get(system, system), code))
                    if match is not None:
                        break
        if match is None:
            return
        rid = obs.get("id")
        ref = f"Observation/{rid}" if isinstance(rid, str) and rid else None
        label = self.rules.analytes[match.analyte].label
        # FHIR says status is a code (a string); anything else is treated as "no status".
        status = _str(obs.get("status"))
        if status not in USABLE_OBSERVATION_STATUSES:
            if status == "preliminary":
                facts.notes.append(
                    DataQualityNote(
                        "preliminary-result", f"Preliminary {label} result shown but not used.", ref
                    )
                )
            elif status not in SILENT_OBSERVATION_STATUSES:
                facts.notes.append(
                    DataQualityNote(
                        "unusable-status",
                        f"{label} result with status {str(status)[:30]!r} not used.",
                        ref,
                    )
                )
            return
        when = None
        for key in ("effectiveDateTime", "effectiveInstant"):
            when = when or parse_fhir_time(obs.get(key))
        if when is None:
            period = obs.get("effectivePeriod")
            if isinstance(period, dict):
                when = parse_fhir_time(period.get("start")) or parse_fhir_time(period.get("end"))
        when = when or parse_fhir_time(obs.get("issued"))
        if when is None:
            facts.notes.append(
                DataQualityNote(
                    "missing-date", f"{label} result without a readable date not used.", ref
                )
            )
            return
        result = self.value(obs, match, label, ref, when, facts.notes)
        if result is not None:
            facts.labs.setdefault(match.analyte, []).append(result)

    def value(
        self,
        obs: Mapping[str, Any],
        match: AnalyteCode,
        label: str,
        ref: str | None,
        when: FhirTime,
        notes: list[DataQualityNote],
    ) -> LabResult | None:
        kind = match.units
        value: float | None = None
        original_value: float | None = None
        original_unit: str | None = None
        comparator: str | None = None
        detected: bool | None = None
        text: str | None = None
        quantity = obs.get("valueQuantity")
        if quantity is not None:
            original_value = _number(quantity.get("value")) if isinstance(quantity, dict) else None
            if not isinstance(quantity, dict) or original_value is None:
                notes.append(
                    DataQualityNote(
                        "malformed-value",
                        f"{label} result with an unreadable quantity not used.",
                        ref,
                    )
                )
                return None
            comp = quantity.get("comparator")
            comparator = comp if comp in ("<", "<=", ">", ">=") else None
            original_unit = _str(quantity.get("code")) or _str(quantity.get("unit"))
            if not kind.qualitative:
                value = self.convert(kind, quantity, original_value)
                if value is None:
                    notes.append(_unit_note(label, original_unit, ref))
                    if comparator is None and match.analyte not in VIRAL_LOADS:
                        return None
                    # A viral load in an unconvertible unit still tells detected / not detected.
        elif "valueString" in obs:
            raw = obs.get("valueString")
            if not isinstance(raw, str) or not raw.strip():
                notes.append(
                    DataQualityNote(
                        "malformed-value",
                        f"{label} result with an unreadable text value not used.",
                        ref,
                    )
                )
                return None
            text = raw.strip()[:80]
            censored = _CENSORED.match(text)
            lowered = text.lower()
            if censored:
                comparator = _COMPARATORS.get(censored.group(1), censored.group(1))
                original_value = float(censored.group(2))
                if kind.unit_optional:
                    # Dimensionless (INR): "<1.1" / ">8" is readable as it stands (spec §1).
                    value = original_value
                elif not kind.qualitative and match.analyte not in VIRAL_LOADS:
                    # Kept (value None) so the rules see a newer result they cannot read; its
                    # unit is never guessed.
                    notes.append(_unit_note(label, None, ref))
            elif lowered in self.rules.negative_text:
                detected = False
            elif lowered in self.rules.positive_text:
                detected = True
            elif not kind.qualitative:
                notes.append(
                    DataQualityNote(
                        "malformed-value",
                        f"{label} result given as text without a unit not used.",
                        ref,
                    )
                )
                return None
        elif "valueCodeableConcept" in obs:
            detected, text = self.answer(obs.get("valueCodeableConcept"))
            if detected is None and not kind.qualitative:
                notes.append(
                    DataQualityNote(
                        "malformed-value",
                        f"{label} result with an unrecognised coded answer not used.",
                        ref,
                    )
                )
                return None
        elif (
            "valueInteger" in obs
            and _number(obs.get("valueInteger")) is not None
            and kind.unit_optional
        ):
            original_value = value = _number(obs.get("valueInteger"))
        elif kind.qualitative and "interpretation" in obs:
            pass
        else:
            notes.append(
                DataQualityNote(
                    "missing-value", f"{label} result without a usable value not used.", ref
                )
            )
            return None
        if detected is None and (kind.qualitative or match.analyte in VIRAL_LOADS):
            detected = self.interpretation(obs.get("interpretation"))
        if match.analyte in VIRAL_LOADS and detected is None:
            # Viral loads: censored "<x" means below the limit, i.e. undetectable (spec §1).
            if comparator in ("<", "<="):
                detected = False
            elif comparator in (">", ">="):
                detected = True
            elif original_value is not None:
                detected = original_value > 0
        if kind.qualitative and detected is None and text is None and original_value is None:
            notes.append(
                DataQualityNote(
                    "missing-value", f"{label} result without a readable answer not used.", ref
                )
            )
            return None
        return LabResult(
            label=label,
            analyte=match.analyte,
            ref=ref,
            token=match.token,
            when=when.start,
            display_when=when.display,
            value=value,
            unit=kind.canonical if value is not None else original_unit,
            comparator=comparator,
            detected=detected,
            original_value=original_value,
            original_unit=original_unit,
            value_text=text
            if text is not None
            else (
                f"{comparator}{original_value:g}"
                if comparator and original_value is not None
                else None
            ),
            raw_range=obs.get("referenceRange") if match.analyte in RANGE_ANALYTES else None,
            units=kind,
            normaliser=self,
        )

    def convert(
        self, kind: UnitKind, quantity: Mapping[str, Any], number: float | None
    ) -> float | None:
        if number is None:
            return None
        code, unit = quantity.get("code"), quantity.get("unit")
        key = (
            kind.name,
            code if isinstance(code, str) else None,
            unit if isinstance(unit, str) else None,
        )
        conversion = self._conversions.get(key, _UNSEEN)
        if conversion is _UNSEEN:
            conversion = _find_conversion(kind, key[1] or None, key[2] or None)
            # Bounded (count and key size): unit spellings come from the EHR.
            if len(self._conversions) < _CACHE_LIMIT and len(key[1] or "") + len(key[2] or "") < 80:
                self._conversions[key] = conversion
        if conversion is None or isinstance(conversion, _Unseen):
            return None
        try:
            converted = conversion.apply(number)
        except OverflowError:
            return None
        return round(converted, _ROUND_DIGITS) if math.isfinite(converted) else None

    def answer(self, concept: object) -> tuple[bool | None, str | None]:
        text: str | None = None
        for system, code, display in _codings(concept):
            key = (self.rules.system(system), code)
            if key in self.rules.negative_codes:
                return False, display or "Not detected"
            if key in self.rules.positive_codes:
                return True, display or "Detected"
            text = text or display
        if isinstance(concept, dict) and isinstance(concept.get("text"), str):
            lowered = concept["text"].strip().lower()
            if lowered in self.rules.negative_text:
                return False, concept["text"].strip()[:80]
            if lowered in self.rules.positive_text:
                return True, concept["text"].strip()[:80]
        return None, text

    def interpretation(self, interpretations: object) -> bool | None:
        if not isinstance(interpretations, list):
            return None
        for concept in interpretations:
            for _system, code, _display in _codings(concept, need_system=False):
                if code in self.rules.negative_interpretations:
                    return False
                if code in self.rules.positive_interpretations:
                    return True
        return None

    def reference_range(
        self, ranges: object, kind: UnitKind, value_unit: str | None
    ) -> tuple[float | None, float | None]:
        if kind.qualitative or not isinstance(ranges, list):
            return None, None
        for entry in ranges:
            if not isinstance(entry, dict):
                continue
            bounds: list[float | None] = []
            for key in ("low", "high"):
                quantity = entry.get(key)
                bound = None
                if isinstance(quantity, dict):
                    number = _number(quantity.get("value"))
                    if quantity.get("code") is None and quantity.get("unit") is None:
                        # A bound without a unit is read in the unit of the result itself.
                        quantity = {"unit": value_unit}
                    bound = self.convert(kind, quantity, number)
                bounds.append(bound)
            if bounds[0] is not None or bounds[1] is not None:
                return bounds[0], bounds[1]
        return None, None

    # Condition ---------------------------------------------------------------------------------
    def condition(self, resource: Mapping[str, Any], facts: Facts) -> None:
        concepts, token, display = _match_concepts(
            self.rules, self.rules.conditions, resource.get("code")
        )
        if not concepts:
            return
        verification = _status_code(resource.get("verificationStatus"))
        if verification in EXCLUDED_VERIFICATION_STATUSES:
            return
        clinical = _status_code(resource.get("clinicalStatus"))
        onset = parse_fhir_time(resource.get("onsetDateTime"))
        if onset is None and isinstance(resource.get("onsetPeriod"), dict):
            onset = parse_fhir_time(resource["onsetPeriod"].get("start"))
        abatement = parse_fhir_time(resource.get("abatementDateTime"))
        if abatement is None and isinstance(resource.get("abatementPeriod"), dict):
            abatement = parse_fhir_time(resource["abatementPeriod"].get("end"))
        fact = ConditionFact(
            concepts=concepts,
            ref=_ref("Condition", resource),
            token=token,
            display=display or self.rules.condition_labels[min(concepts)],
            active=clinical is None or clinical in ACTIVE_CLINICAL_STATUSES,
            onset=onset,
            abatement=abatement,
            recorded=parse_fhir_time(resource.get("recordedDate")),
        )
        for concept in concepts:
            facts.conditions.setdefault(concept, []).append(fact)

    # Medication --------------------------------------------------------------------------------
    def medication(self, resource: Mapping[str, Any], facts: Facts) -> None:
        kind = resource.get("resourceType")
        concept = resource.get("medicationCodeableConcept")
        reference = resource.get("medicationReference")
        if concept is None and isinstance(reference, dict):
            concept = _contained_medication(resource, reference.get("reference"))
        concepts, token, display = _match_concepts(self.rules, self.rules.medications, concept)
        if not concepts:
            return
        rtype = (
            kind if kind in ("MedicationRequest", "MedicationStatement") else "MedicationRequest"
        )
        start: FhirTime | None = None
        if kind == "MedicationStatement":
            period = resource.get("effectivePeriod")
            if isinstance(period, dict):
                start = parse_fhir_time(period.get("start"))
            start = (
                start
                or parse_fhir_time(resource.get("effectiveDateTime"))
                or parse_fhir_time(resource.get("dateAsserted"))
            )
        else:
            dispense = resource.get("dispenseRequest")
            if isinstance(dispense, dict) and isinstance(dispense.get("validityPeriod"), Mapping):
                start = parse_fhir_time(dispense["validityPeriod"].get("start"))
            start = start or parse_fhir_time(resource.get("authoredOn"))
        fact = MedicationFact(
            concepts=concepts,
            ref=_ref(rtype, resource),
            token=token,
            display=display,
            active=_str(resource.get("status")) in ACTIVE_MEDICATION_STATUSES,
            start=start.start if start is not None else None,
            start_display=start.display if start is not None else None,
        )
        for name in concepts:
            facts.medications.setdefault(name, []).append(fact)

    # Procedure ---------------------------------------------------------------------------------
    def procedure(self, resource: Mapping[str, Any], facts: Facts) -> None:
        concepts, token, _display = _match_concepts(
            self.rules, self.rules.procedures, resource.get("code")
        )
        if not concepts:
            return
        ref = _ref("Procedure", resource)
        if _str(resource.get("status")) not in DONE_PROCEDURE_STATUSES:
            return
        when = parse_fhir_time(resource.get("performedDateTime"))
        if when is None and isinstance(resource.get("performedPeriod"), dict):
            when = parse_fhir_time(resource["performedPeriod"].get("start"))
        if when is None:
            facts.notes.append(
                DataQualityNote(
                    "missing-date", "MSC infusion procedure without a readable date not used.", ref
                )
            )
            return
        fact = ProcedureFact(concepts, ref, token, when)
        for name in concepts:
            facts.procedures.setdefault(name, []).append(fact)


def _newest_first(result: LabResult) -> tuple[datetime, str, float]:
    value = result.original_value if result.original_value is not None else -math.inf
    return (result.when, result.ref or "", value)


class _Unseen:
    """Cache sentinel: a unit spelling not looked up yet."""


_UNSEEN = _Unseen()
_CACHE_LIMIT = 4096


def _find_conversion(kind: UnitKind, code: str | None, unit: str | None) -> UnitConversion | None:
    conversion = kind.conversion(code) if code is not None else None
    if conversion is None and unit is not None:
        conversion = kind.conversion(unit)
    if conversion is None and code is None and unit is None:
        conversion = kind.conversion(None)
    return conversion


def _contained_medication(resource: Mapping[str, Any], reference: object) -> object:
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return None
    for item in contained:
        if isinstance(item, dict) and item.get("id") == reference[1:]:
            return item.get("code")
    return None


def _as_list(items: object, kind: str, notes: list[DataQualityNote]) -> list[Mapping[str, Any]]:
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        if items:
            notes.append(
                DataQualityNote("malformed-resource", f"{kind} list is not a JSON array: skipped.")
            )
        return []
    out: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(dict(item))
        else:
            notes.append(
                DataQualityNote(
                    "malformed-resource", f"A {kind} entry is not a JSON object: skipped."
                )
            )
    return out


def _unit_note(label: str, unit: str | None, ref: str | None) -> DataQualityNote:
    if unit is None:
        return DataQualityNote(
            "missing-unit",
            f"{label} result without a unit not used (a unit is never guessed).",
            ref,
        )
    return DataQualityNote(
        "unknown-unit",
        f"{label} result in unknown unit {unit[:30]!r} not used (a unit is never guessed).",
        ref,
    )
