"""Console pages (issue 5): intake."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
