"""CardRenderer: an Assessment in, CDS Hooks 2.0 cards out.

The card JSON is built here, in code; only the text fields (summary, detail, labels) come
from the templates in ``cards/`` (see :mod:`cds_service.cards.definitions`). Templates are
compiled once by :meth:`CardRenderer.load`, which also renders a set of sample assessments
so that a template error fails the start-up rather than a hook call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from cds_service.cards.definitions import (
    TEMPLATES_DIR,
    CardDefinition,
    CardDefinitions,
    Reference,
    load_definitions,
    load_references,
)
from cds_service.cards.errors import CardConfigError
from cds_service.cards.markdown import Markdown, escape_markdown, escape_str, one_line
from cds_service.cards.service_requests import (
    ServiceRequestError,
    draft_service_request,
    is_fhir_id,
)
from cds_service.cards.text import fit_summary, forbidden_word_pattern, prune_empty
from cds_service.cards.views import (
    evidence_view,
    fmt_date,
    fmt_instant,
    join_labels,
    monitoring_item_view,
    planned_schedule_view,
    rule_view,
    score_results,
    score_view,
    workup_view,
)
from cds_service.clinical.model import (
    OUTCOME_CODE_SYSTEM,
    POST_INFUSION_MONITORING,
    Assessment,
    MonitoringState,
    Outcome,
    RuleKind,
    RuleResult,
    Status,
)
from cds_service.resources import data_dir

Card = dict[str, Any]
UuidFactory = Callable[[], str]

# Condition names as EHRs send them ("Unspecified cirrhosis of liver", "Fatty liver
# (disorder)") make poor trial-search terms: drop SNOMED semantic tags and "unspecified".
_SEMANTIC_TAG = re.compile(r"\s*\((?:disorder|finding|morphologic abnormality)\)\s*$", re.I)
_UNSPECIFIED = re.compile(r",?\s*\bunspecified\b,?", re.I)
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


@dataclass(frozen=True, slots=True)
class _Texts:
    """Compiled templates of one card definition."""

    summary: jinja2.Template
    detail: jinja2.Template


def _escape_tree(value: Any) -> Any:
    """Markdown-escape every string in a template context (except :class:`Markdown`)."""
    kind = type(value)
    if kind is str:
        return escape_str(value)
    if kind is dict:
        out: dict[Any, Any] = {}
        for k, v in value.items():
            # leaves inline: a call per number or string costs more than its escaping
            leaf = type(v)
            if leaf is str:
                out[k] = escape_str(v)
            elif v is None or leaf is int or leaf is float or leaf is bool:
                out[k] = v
            else:
                out[k] = _escape_tree(v)
        return out
    if kind is list or kind is tuple:
        return [_escape_tree(v) for v in value]
    if isinstance(value, Markdown):
        return value
    if isinstance(value, str):  # another str subclass: escape it like text
        return escape_markdown(value)
    return value


class CardRenderer:
    """Renders the advisory cards. Build with :meth:`load`; thread-safe once built."""

    def __init__(
        self,
        definitions: CardDefinitions,
        references: tuple[Reference, ...],
        texts: Mapping[str, _Texts],
        text_env: SandboxedEnvironment,
    ) -> None:
        self.definitions = definitions
        self.references = references
        self._texts = texts
        self._text_env = text_env
        sugg = definitions.cards[Outcome.WORKUP_INCOMPLETE.value].suggestions
        if sugg is None:  # the schema requires it; said plainly if a future schema forgets
            raise CardConfigError("cards/workup-incomplete/suggestions is missing")
        where = "cards/workup-incomplete/suggestions/"
        self._sugg_label = _compile(text_env, sugg.test_label, where + "test_label")
        self._sugg_description = _compile(
            text_env, sugg.test_description, where + "test_description"
        )
        self._sugg_full = _compile(text_env, sugg.full_workup_label, where + "full_workup_label")
        self._sugg_reason = _compile(text_env, sugg.reason_text, where + "reason_text")
        self._sugg_min_full = sugg.full_workup_min_tests
        self._sugg_cache: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self._verified_refs = [_reference_view(r) for r in references if r.verified]
        self._unverified_clinic = sum(1 for r in references if r.cited_by_clinic and not r.verified)
        self._forbidden = forbidden_word_pattern(definitions.forbidden_words)
        self._units = definitions.unit_display

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, cards_dir: Path | None = None) -> CardRenderer:
        """Read, validate and compile the card definitions (raises CardConfigError)."""
        if cards_dir is None:
            try:
                cards_dir = data_dir("cards")
            except FileNotFoundError as exc:
                raise CardConfigError(str(exc)) from exc
        definitions = load_definitions(cards_dir)
        references = load_references(cards_dir)
        templates_dir = cards_dir / TEMPLATES_DIR
        md_env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # Markdown, not HTML: values are escaped for Markdown in code
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        text_env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        texts: dict[str, _Texts] = {}
        for key, card in definitions.cards.items():
            texts[key] = _Texts(
                summary=_compile(text_env, card.summary, f"cards/{key}/summary"),
                detail=_load_template(md_env, card.detail_template, templates_dir),
            )
        _check_wording(definitions, references, templates_dir)
        renderer = cls(definitions, references, texts, text_env)
        renderer._self_test()
        return renderer

    def _self_test(self) -> None:
        """Render every card type once from built-in samples: fail now, not in a hook."""
        from cds_service.cards.samples import sample_assessments

        counter = iter(range(10**6))
        for name, assessment in sample_assessments().items():
            try:
                cards = self.render(
                    assessment, "sample-patient", lambda: f"self-test-{next(counter)}"
                )
            except (jinja2.TemplateError, ServiceRequestError, TypeError, KeyError) as exc:
                raise CardConfigError(f"card templates fail on sample {name!r}: {exc}") from exc
            for card in cards:
                self._check_rendered(card, name)

    def _check_rendered(self, card: Card, sample: str) -> None:
        for text in _strings(card):
            found = self._forbidden.search(text)
            if found:
                raise CardConfigError(
                    f"sample {sample!r}: rendered card uses the forbidden word {found.group(0)!r}"
                )

    # ---------------------------------------------------------------- rendering
    def render(
        self, assessment: Assessment, patient_id: str, uuid_factory: UuidFactory
    ) -> list[Card]:
        """The CDS Hooks cards for ``assessment`` ([] when nothing applies)."""
        if (
            assessment.outcome is Outcome.NOT_APPLICABLE
            and assessment.post_infusion_monitoring is None
        ):
            return []  # silence is the default (clinical-rules-v1 §4.1)
        common = self._common_context(assessment)
        cards: list[Card] = []
        outcome = assessment.outcome
        if outcome is Outcome.EXCLUDED:
            cards.append(self._excluded(assessment, common, uuid_factory))
        elif outcome is Outcome.WORKUP_INCOMPLETE:
            cards.append(self._workup(assessment, common, patient_id, uuid_factory))
        elif outcome is Outcome.MEETS_SCREENING_CRITERIA:
            cards.append(self._meets(assessment, common, uuid_factory))
        elif outcome is Outcome.DOES_NOT_MEET:
            cards.append(self._does_not_meet(assessment, common, uuid_factory))
        if assessment.post_infusion_monitoring is not None:
            cards.append(self._monitoring(assessment, common, uuid_factory))
        return cards

    def render_text(self, assessment: Assessment, cards: list[Card]) -> str:
        """A terminal view of the outcome, reasons, scores and schedule."""
        from cds_service.cards.terminal import render_terminal

        return render_terminal(assessment, cards, self._units)

    # ------------------------------------------------------------------- cards
    def _common_context(self, a: Assessment) -> dict[str, Any]:
        return {
            "version": a.ruleset_version,
            "evaluated_at": fmt_instant(a.evaluated_at),
            "data_notes": [
                {"message": n.message, "resource": n.resource_ref or ""} for n in a.data_quality
            ],
            "scores": [score_view(s) for s in a.scores],
            "score_results": score_results(a.scores, self._units),
        }

    def _excluded(self, a: Assessment, common: dict[str, Any], uuids: UuidFactory) -> Card:
        exclusions = self.rank_exclusions(a.exclusions)
        strongest = exclusions[0].label if exclusions else "exclusion on record"
        detail = {
            **common,
            "exclusions": [
                rule_view(r, self._exclusion_note(r.id), self._units) for r in exclusions
            ],
            "unknown_exclusions": [rule_view(r, units=self._units) for r in a.unknown_exclusions],
        }
        summary = {"strongest": strongest, "more": max(len(exclusions) - 1, 0)}
        return self._card(Outcome.EXCLUDED.value, summary, detail, uuids)

    def _workup(
        self, a: Assessment, common: dict[str, Any], patient_id: str, uuids: UuidFactory
    ) -> Card:
        items = a.blocking_workup
        unknown = a.unknown_exclusions
        labels = [w.label for w in items] or [r.label for r in unknown]
        suggestions, orders_note = self._workup_suggestions(a, patient_id)
        detail = {
            **common,
            "items": [workup_view(w, self._units) for w in items],
            "unknown_exclusions": [rule_view(r, units=self._units) for r in unknown],
            "indications": [rule_view(r, units=self._units) for r in a.indications_met],
            "orders_note": orders_note,
        }
        summary = {"count": len(labels), "labels": join_labels(labels)}
        card = self._card(Outcome.WORKUP_INCOMPLETE.value, summary, detail, uuids)
        if suggestions:
            # built complete (validated resources, non-empty labels): nothing to prune
            card["suggestions"] = [{"uuid": uuids(), **s} for s in suggestions]
            card["selectionBehavior"] = "any"
        return card

    def _workup_suggestions(
        self, a: Assessment, patient_id: str
    ) -> tuple[list[dict[str, Any]], str]:
        """One suggestion per test to order, plus one for the whole workup."""
        if not is_fhir_id(patient_id):
            return [], (
                "Draft orders are not offered on this card: the patient id in the request is "
                "not a valid FHIR id."
            )
        suggestions: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        failed: list[str] = []
        seen: set[str] = set()
        for item in a.blocking_workup:
            for order in item.orders:
                if order.loinc in seen:
                    continue
                seen.add(order.loinc)
                name = item.label if len(item.orders) == 1 else order.display
                label, description, reason = self._suggestion_texts(name, order.loinc, item.why)
                try:
                    resource = draft_service_request(order.loinc, order.display, reason, patient_id)
                except ServiceRequestError:
                    failed.append(name)
                    continue
                action = {"type": "create", "description": description, "resource": resource}
                actions.append(action)
                suggestions.append({"label": label, "actions": [action]})
        if len(actions) >= self._sugg_min_full:
            suggestions.append(
                {
                    "label": one_line(self._sugg_full.render(count=len(actions))),
                    "actions": list(actions),
                }
            )
        note = (
            "No draft order could be built for: "
            + ", ".join(failed)
            + " (order in the EHR directly)."
            if failed
            else ""
        )
        return suggestions, note

    def _suggestion_texts(self, test: str, loinc: str, why: str) -> tuple[str, str, str]:
        """Label, action description and ServiceRequest reason (memoised: a few µs saved
        per test on every hook; the inputs come from the ruleset's small vocabulary)."""
        key = (test, loinc, why)
        cached = self._sugg_cache.get(key)
        if cached is None:
            cached = (
                one_line(self._sugg_label.render(test=test)) or test,
                one_line(self._sugg_description.render(test=test, loinc=loinc)),
                one_line(self._sugg_reason.render(why=why)),
            )
            if len(self._sugg_cache) < 4096:  # bounded: never grows with patient data
                self._sugg_cache[key] = cached
        return cached

    def _meets(self, a: Assessment, common: dict[str, Any], uuids: UuidFactory) -> Card:
        schedule, schedule_notes = planned_schedule_view(a.planned_monitoring)
        detail = {
            **common,
            "paths": [rule_view(r, units=self._units) for r in a.indications_met],
            "child_pugh_note": self._child_pugh_note(a),
            "references": self._verified_refs,
            "unverified_clinic_citations": self._unverified_clinic,
            "schedule": schedule,
            "schedule_notes": schedule_notes,
            "planned_items": [workup_view(w, self._units) for w in a.workup if not w.blocking],
        }
        links = self._trial_links(a.liver_conditions)
        return self._card(
            Outcome.MEETS_SCREENING_CRITERIA.value, {}, detail, uuids, extra_links=links
        )

    def _meets_context_for_bench(self, a: Assessment) -> dict[str, Any]:
        """The escaped detail context of the candidacy card (benchmark only)."""
        schedule, notes = planned_schedule_view(a.planned_monitoring)
        context = {
            **self._common_context(a),
            "paths": [rule_view(r, units=self._units) for r in a.indications_met],
            "child_pugh_note": self._child_pugh_note(a),
            "references": self._verified_refs,
            "unverified_clinic_citations": self._unverified_clinic,
            "schedule": schedule,
            "schedule_notes": notes,
            "planned_items": [workup_view(w, self._units) for w in a.workup if not w.blocking],
        }
        escaped: dict[str, Any] = _escape_tree(context)
        return escaped

    def _does_not_meet(self, a: Assessment, common: dict[str, Any], uuids: UuidFactory) -> Card:
        paths = [r for r in a.rules if r.kind is RuleKind.INDICATION]
        not_met = [r for r in paths if r.status is Status.NOT_MET and r.evidence]
        others = [r for r in paths if r.status is Status.NOT_MET and not r.evidence]
        unknown = [r for r in paths if r.status is Status.UNKNOWN]
        candidates = not_met or others or unknown
        criterion = candidates[0].label if candidates else "no screening path met"
        detail = {
            **common,
            "not_met": [rule_view(r, units=self._units) for r in not_met],
            "other_paths": [rule_view(r, units=self._units) for r in others],
            "unknown_paths": [rule_view(r, units=self._units) for r in unknown],
            "child_pugh_note": self._child_pugh_note(a),
        }
        return self._card(Outcome.DOES_NOT_MEET.value, {"criterion": criterion}, detail, uuids)

    def _monitoring(self, a: Assessment, common: dict[str, Any], uuids: UuidFactory) -> Card:
        schedule = a.post_infusion_monitoring
        if schedule is None:
            raise ValueError("no post-infusion schedule to render")
        items = schedule.items
        overdue = [i for i in items if i.state is MonitoringState.OVERDUE]
        pending = [i for i in items if i.state in (MonitoringState.DUE, MonitoringState.PLANNED)]
        infusion = (
            evidence_view(schedule.infusion, self._units) if schedule.infusion is not None else None
        )

        def when(label: str, due: str) -> str:
            return f"{label} (due {due})" if due else label

        summary = {
            "infusion_date": (infusion or {}).get("date") or "date not recorded",
            "overdue": len(overdue),
            "first_overdue": when(overdue[0].label, fmt_date(overdue[0].due_date))
            if overdue
            else "",
            "next_due": when(pending[0].label, fmt_date(pending[0].due_date)) if pending else "",
        }
        detail = {
            **common,
            "infusion": infusion,
            "items": [monitoring_item_view(i, self._units) for i in items],
            "overdue": len(overdue),
            "notes": list(schedule.notes),
        }
        definition = self.definitions.cards[POST_INFUSION_MONITORING]
        indicator = (
            definition.indicator_when_overdue or definition.indicator
            if overdue
            else definition.indicator
        )
        return self._card(POST_INFUSION_MONITORING, summary, detail, uuids, indicator=indicator)

    # ------------------------------------------------------------------ pieces
    def _card(
        self,
        key: str,
        summary_context: Mapping[str, Any],
        detail_context: Mapping[str, Any],
        uuids: UuidFactory,
        *,
        indicator: str | None = None,
        extra_links: Iterable[dict[str, str]] = (),
    ) -> Card:
        definition = self.definitions.cards[key]
        texts = self._texts[key]
        card: Card = {
            "uuid": uuids(),
            "summary": fit_summary(texts.summary.render(summary_context))
            or definition.topic_display,
            "indicator": indicator or definition.indicator,
            "detail": _tidy_markdown(texts.detail.render(_escape_tree(dict(detail_context)))),
            "source": {
                "label": self.definitions.source_label.replace(
                    "{version}", str(detail_context["version"])
                ),
                "url": self.definitions.source_url,
                "topic": {
                    "system": OUTCOME_CODE_SYSTEM,
                    "code": key,
                    "display": definition.topic_display,
                },
            },
            "overrideReasons": [
                {
                    "code": r.code,
                    "system": self.definitions.override_reason_system,
                    "display": r.display,
                }
                for r in definition.override_reasons
            ],
            "links": [*extra_links, *self._shared_links(definition)],
        }
        pruned: Card = prune_empty(card)
        return pruned

    def _shared_links(self, definition: CardDefinition) -> list[dict[str, str]]:
        links = self.definitions.shared_links
        return [
            {"label": links[k].label, "url": links[k].url, "type": "absolute"}
            for k in definition.links
        ]

    def _trial_links(self, conditions: Iterable[str]) -> list[dict[str, str]]:
        search = self.definitions.trial_search
        names: dict[str, str] = {}
        for raw in conditions:
            name = one_line(_UNSPECIFIED.sub(" ", _SEMANTIC_TAG.sub("", raw))).strip(" ,;")
            if name and name.lower() not in names:
                names[name.lower()] = name
        chosen = list(names.values())[: search.max_condition_links] or [search.fallback_condition]
        return [
            {
                "label": fit_summary(search.label.replace("{condition}", name), 100),
                "url": search.url.replace("{condition}", quote(name, safe="")),
                "type": "absolute",
            }
            for name in chosen
        ]

    def rank_exclusions(self, exclusions: Iterable[RuleResult]) -> list[RuleResult]:
        """Most severe first (order in card-definitions.yaml), then the engine's order."""
        order = self.definitions.exclusion_severity

        def rank(rule: RuleResult) -> int:
            return next((i for i, p in enumerate(order) if rule.id.startswith(p)), len(order))

        return sorted(exclusions, key=rank)

    def _exclusion_note(self, reason_id: str) -> str:
        return next(
            (
                " ".join(t.split())
                for p, t in self.definitions.exclusion_notes
                if reason_id.startswith(p)
            ),
            "",
        )

    def _child_pugh_note(self, a: Assessment) -> str:
        for score in a.scores:
            if (
                score.id == "child-pugh"
                and score.value is not None
                and score.value >= self.definitions.child_pugh_note_min
            ):
                return " ".join(self.definitions.child_pugh_note.split())
        return ""


# ---------------------------------------------------------------------- helpers
def _compile(env: SandboxedEnvironment, source: str, where: str) -> jinja2.Template:
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise CardConfigError(f"{where}: template syntax error: {exc.message}") from exc


def _load_template(env: SandboxedEnvironment, name: str, folder: Path) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise CardConfigError(f"{folder / name}: template not found ({exc.name})") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise CardConfigError(
            f"{exc.filename or folder / name}:{exc.lineno}: template syntax error: {exc.message}"
        ) from exc


def _check_wording(
    definitions: CardDefinitions, references: tuple[Reference, ...], templates_dir: Path
) -> None:
    """Forbidden words nowhere in card text; the required word in every summary."""
    pattern = forbidden_word_pattern(definitions.forbidden_words)
    sources: list[tuple[str, str]] = [
        (f"templates/{p.name}", p.read_text(encoding="utf-8"))
        for p in sorted(templates_dir.glob("*.j2"))
    ]
    for key, card in definitions.cards.items():
        sources.append((f"cards/{key}/summary", card.summary))
        sources.append((f"cards/{key}/topic_display", card.topic_display))
        sources += [(f"cards/{key}/override_reasons", r.display) for r in card.override_reasons]
        if card.suggestions is not None:
            s = card.suggestions
            sources += [
                (f"cards/{key}/suggestions", t)
                for t in (s.test_label, s.test_description, s.full_workup_label, s.reason_text)
            ]
        if definitions.required_summary_word not in card.summary.lower():
            raise CardConfigError(
                f"cards/{key}/summary must contain the word {definitions.required_summary_word!r}"
            )
    sources += [(f"shared_links/{k}", v.label) for k, v in definitions.shared_links.items()]
    sources += [(f"exclusion_notes/{k}", v) for k, v in definitions.exclusion_notes]
    sources += [
        ("child_pugh_note", definitions.child_pugh_note),
        ("trial_search/label", definitions.trial_search.label),
        ("trial_search/fallback_condition", definitions.trial_search.fallback_condition),
        ("source/label", definitions.source_label),
    ]
    sources += [
        (f"references/{r.id}", " ".join((r.title, r.study or ""))) for r in references if r.verified
    ]
    for where, text in sources:
        found = pattern.search(text)
        if found:
            raise CardConfigError(f"{where}: uses the forbidden word {found.group(0)!r}")


def _reference_view(ref: Reference) -> dict[str, Any]:
    authors = ", ".join(ref.authors) + ("" if ref.authors_complete else ", et al.")
    where = ref.journal + f". {ref.year}"
    if ref.volume:
        where += f";{ref.volume}" + (f"({ref.issue})" if ref.issue else "")
        if ref.pages:
            where += f":{ref.pages}"
    text = escape_markdown(f"{authors} {ref.title}. {where}.")
    if ref.doi:
        url = "https://doi.org/" + quote(ref.doi, safe="/.-_:;")
        text += f" [doi:{escape_markdown(ref.doi)}]({url})"
    if ref.other_id:
        text += " " + escape_markdown(ref.other_id + ".")
    study = escape_markdown(" ".join(ref.study.split())) if ref.study else ""
    return {"citation": Markdown(text), "study": Markdown(study)}


def _tidy_markdown(text: str) -> str:
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
