"""Paging rules of api.md: page from 1, per_page at most 100."""
from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

from domain.shared.errors import ValidationFailed

T = TypeVar("T")
MAX_PER_PAGE = 100


@dataclasses.dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 20

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValidationFailed("page", "must be >= 1", code="invalid_page")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValidationFailed("per_page", f"must be between 1 and {MAX_PER_PAGE}", code="invalid_page")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
