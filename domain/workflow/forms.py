"""Requirement form templates (platform-owned) and the check of a customer's submission.

A form is an ordered list of fields; each has a key, a label, a type
(``text | number | date | choice | file``), a required flag and, for ``choice``, the
allowed options. ``validate_submission`` returns the cleaned values or raises
``ValidationFailed`` naming ``values.<key>``.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.shared.errors import ValidationFailed

FIELD_TYPES = ("text", "number", "date", "choice", "file")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_TEXT = 2000


@dataclasses.dataclass(frozen=True)
class FormField:
    key: str
    label: str
    type: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class FormTemplate:
    id: str
    name: str
    fields: tuple[FormField, ...]

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 100:
            raise ValidationFailed("name", "must be 1-100 characters", code="invalid_form")
        if not self.fields:
            raise ValidationFailed("fields", "must hold at least one field", code="invalid_form")
        seen: set[str] = set()
        for i, f in enumerate(self.fields):
            if not KEY_RE.match(f.key):
                raise ValidationFailed(f"fields[{i}].key", "must be lower_snake_case, 1-50 characters",
                                       code="invalid_form")
            if f.key in seen:
                raise ValidationFailed(f"fields[{i}].key", f"{f.key!r} is used twice", code="invalid_form")
            seen.add(f.key)
            if not f.label.strip() or len(f.label) > 100:
                raise ValidationFailed(f"fields[{i}].label", "must be 1-100 characters", code="invalid_form")
            if f.type not in FIELD_TYPES:
                raise ValidationFailed(f"fields[{i}].type", f"must be one of {', '.join(FIELD_TYPES)}",
                                       code="invalid_form")
            if f.type == "choice" and not f.choices:
                raise ValidationFailed(f"fields[{i}].choices", "a choice field needs options", code="invalid_form")
            if f.type != "choice" and f.choices:
                raise ValidationFailed(f"fields[{i}].choices", "only choice fields have options",
                                       code="invalid_form")


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def validate_submission(form: FormTemplate, values: Mapping[str, Any],
                        known_file_ids: Collection[str] = ()) -> dict[str, Any]:
    """Check ``values`` against ``form``; return the cleaned values (JSON-friendly).

    text -> stripped string (<= 2000 chars); number -> decimal string; date -> ISO
    date string; choice -> one of the options; file -> the id of a file uploaded to
    this node (``known_file_ids``). Unknown keys are refused, so nothing unchecked is
    stored.
    """
    by_key = {f.key: f for f in form.fields}
    for key in values:
        if key not in by_key:
            raise ValidationFailed(f"values.{key}", "is not a field of this form", code="invalid_requirements")
    cleaned: dict[str, Any] = {}
    for f in form.fields:
        field = f"values.{f.key}"
        raw = values.get(f.key)
        if _empty(raw):
            if f.required:
                raise ValidationFailed(field, "is required", code="invalid_requirements")
            continue
        if f.type == "text":
            if not isinstance(raw, str):
                raise ValidationFailed(field, "must be text", code="invalid_requirements")
            text = raw.strip()
            if len(text) > MAX_TEXT:
                raise ValidationFailed(field, f"must be at most {MAX_TEXT} characters", code="invalid_requirements")
            cleaned[f.key] = text
        elif f.type == "number":
            if isinstance(raw, bool):
                raise ValidationFailed(field, "must be a number", code="invalid_requirements")
            try:
                number = Decimal(str(raw))
            except (InvalidOperation, ValueError) as exc:
                raise ValidationFailed(field, "must be a number", code="invalid_requirements") from exc
            if not number.is_finite():
                raise ValidationFailed(field, "must be a finite number", code="invalid_requirements")
            cleaned[f.key] = str(number)
        elif f.type == "date":
            try:
                cleaned[f.key] = date.fromisoformat(str(raw)).isoformat()
            except ValueError as exc:
                raise ValidationFailed(field, "must be an ISO date (YYYY-MM-DD)",
                                       code="invalid_requirements") from exc
        elif f.type == "choice":
            if raw not in f.choices:
                raise ValidationFailed(field, f"must be one of {', '.join(f.choices)}", code="invalid_requirements")
            cleaned[f.key] = raw
        else:  # file
            if not isinstance(raw, str) or raw not in known_file_ids:
                raise ValidationFailed(field, "must be the id of a file uploaded at this node",
                                       code="invalid_requirements")
            cleaned[f.key] = raw
    return cleaned
