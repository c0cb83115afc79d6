"""Forms built from the API's own body models, so that every action the API offers has its form in the console
with the same fields, limits and validation (issue 5: "every action the API allows a role is reachable").

``fields_of(Model)`` describes the inputs; ``parse(Model, form)`` validates a submitted form with the model and
returns either the body or {field: Chinese message}.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from civiclink.i18n import LABELS
from civiclink.web.console import field_errors, form_dict
from civiclink.web.messages import messages, t

# Free text that is usually more than a line: a textarea.
LONG_FIELDS = {"content", "answer", "reason", "basis", "note", "situation", "result_note", "summary"}
# Which label family of civiclink.i18n names a field's options.
OPTION_LABELS = {"satisfaction": "satisfaction", "method": "callback_method", "channel": "transfer_channel",
                 "request_type": "request_type", "urgency": "urgency", "outcome": "consultation_outcome"}


@dataclass
class FieldSpec:
    name: str
    label: str
    kind: str  # text | textarea | select | checkbox | hidden | number
    required: bool
    value: Any = None
    options: list[tuple[str, str]] = field(default_factory=list)
    max_length: int | None = None
    help: str | None = None
    error: str | None = None


def _unwrap(annotation) -> tuple[Any, bool]:
    """(the inner type, optional?) of ``X | None`` / ``Annotated[X, …]``."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0] if len(args) == 1 else str
        else:
            return annotation, optional


def _option_label(name: str, value: str) -> str:
    key = f"option.{name}.{value}"
    if key in messages():
        return t(key)
    family = OPTION_LABELS.get(name)
    return LABELS.get(family, {}).get(str(value), str(value)) if family else str(value)


def _max_length(info) -> int | None:
    for meta in info.metadata:
        limit = getattr(meta, "max_length", None)
        if limit:
            return limit
    annotation = info.annotation
    for arg in typing.get_args(annotation):
        for meta in getattr(arg, "__metadata__", ()):
            if getattr(meta, "max_length", None):
                return meta.max_length
    return None


def fields_of(model: type[BaseModel], *, values: dict | None = None, errors: dict | None = None,
              options: dict[str, list[tuple[str, str]]] | None = None, hidden: set[str] = frozenset()
              ) -> list[FieldSpec]:
    """The inputs of ``model``'s form. ``options`` gives choices for a field whose model type is a plain string
    (a unit code, say); ``hidden`` fields are carried, not shown (the record's version)."""
    values, errors, options = values or {}, errors or {}, options or {}
    specs = []
    for name, info in model.model_fields.items():
        inner, optional = _unwrap(info.annotation)
        required = info.is_required()
        default = None if info.default is None or required else info.default
        value = values.get(name, default.value if isinstance(default, Enum) else default)
        label_key = f"field.{name}"
        label = t(label_key) if label_key in messages() else (info.description or name)
        spec = FieldSpec(name=name, label=label, kind="text", required=required and not optional, value=value,
                         max_length=_max_length(info), error=errors.get(name),
                         help=t(f"help.{name}") if f"help.{name}" in messages() else None)
        if name in hidden:
            spec.kind = "hidden"
        elif name in options:
            spec.kind, spec.options = "select", options[name]
        elif inner is bool:
            spec.kind = "checkbox"
        elif typing.get_origin(inner) is Literal:
            spec.kind = "select"
            spec.options = [(str(v), _option_label(name, str(v))) for v in typing.get_args(inner)]
        elif isinstance(inner, type) and issubclass(inner, Enum):
            spec.kind = "select"
            spec.options = [(str(m.value), _option_label(name, str(m.value))) for m in inner]
        elif inner is int:
            spec.kind = "number"
        elif name in LONG_FIELDS or (spec.max_length or 0) > 300:
            spec.kind = "textarea"
        if spec.kind == "select" and optional and not required:
            spec.options = [("", t("form.choose"))] + spec.options
        specs.append(spec)
    return specs


def _coerce(model: type[BaseModel], data: dict) -> dict:
    """Checkboxes post a hidden "false" then the box's "true": the last value wins for a single-valued field."""
    for name, info in model.model_fields.items():
        value = data.get(name)
        inner, _ = _unwrap(info.annotation)
        if isinstance(value, list) and typing.get_origin(inner) is not list:
            data[name] = value[-1]
    return data


def parse(model: type[BaseModel], form, *, extra: dict | None = None) -> tuple[BaseModel | None, dict, dict]:
    """(body or None, {field: error}, the values as typed — to show again on an error)."""
    data = _coerce(model, form_dict(form))
    data.pop("next", None)
    if extra:
        data.update(extra)
    try:
        return model.model_validate(data), {}, data
    except ValidationError as exc:
        return None, field_errors(exc), data


async def submit(request, ctx, model: type[BaseModel], write, *, rerender, redirect_to: str):
    """Validate the posted form with ``model`` and run ``write(wctx, body)`` in the writer's batch; then redirect
    (303) to ``redirect_to``. On a refusal — bad input (422), a rule (403/409), someone else's change meanwhile
    (409) — ``rerender(status_code=…, message=…, values=…, errors=…)`` shows the page again with the message next
    to the field and what was typed (never the stale version number, so the fresh one is used)."""
    from fastapi.responses import RedirectResponse
    from sqlalchemy.orm.exc import StaleDataError

    from civiclink.errors import DomainError
    from civiclink.web.console import domain_error_text, run_write

    body, errors, typed = parse(model, await request.form())
    if body is None:
        return await rerender(status_code=422, message=t("error.form"), values=typed, errors=errors)
    try:
        await run_write(request, ctx, lambda wctx: write(wctx, body) and None)
    except (DomainError, StaleDataError) as exc:
        ctx.session.rollback()
        text = domain_error_text(exc)
        return await rerender(status_code=getattr(exc, "status_code", 409), message=text,
                              values={k: v for k, v in typed.items() if k != "version"},
                              errors={getattr(exc, "field", None) or "": text})
    return RedirectResponse(redirect_to, status_code=303)


def unsent_form(model: type[BaseModel], action: str, action_label: str, values: dict, error: str | None) -> dict:
    """What the user typed for an action that is no longer allowed — someone changed the record meanwhile (409)
    — shown read-only beside the fresh record, so that nothing typed is lost and it can be copied."""
    shown = [(spec.label, _shown_value(spec)) for spec in fields_of(model, values=values, hidden={"version"})
             if spec.kind != "hidden" and spec.value not in (None, "")]
    return {"action": f"unsent-{action}", "label": t("form.unsent", action=action_label), "unsent": shown,
            "open": True, "weighty": False, "error": error, "fields": [], "help": ""}


def _shown_value(spec: FieldSpec) -> str:
    for value, text in spec.options:
        if value == str(spec.value):
            return text
    if spec.kind == "checkbox":
        return t("form.yes") if str(spec.value).lower() in ("true", "on", "1") else t("form.no")
    return str(spec.value)
