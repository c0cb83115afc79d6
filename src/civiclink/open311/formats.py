"""The two wire formats of GeoReport v2: XML (required) and JSON by the "Spark convention" (the same tree, lists as
arrays), and the specification's error body (docs/open311.md)."""

from __future__ import annotations

import json
from datetime import datetime
from xml.etree import ElementTree as ET

from fastapi.responses import Response

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
FORMATS = ("xml", "json")

# The element name of one item of a list, by the list's name (the Spark convention's plural → singular).
ITEM = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
        "endpoints": "endpoint", "formats": "format", "errors": "error", "service_request_updates": "request_update"}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _fill(parent: ET.Element, name: str, value) -> None:
    if value is None:
        return  # "may not be returned": an optional field without a value is left out
    element = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(element, key, inner)
    elif isinstance(value, list):
        for item in value:
            _fill(element, ITEM[name], item)
    else:
        element.text = _text(value)


def to_xml(root: str, body) -> bytes:
    """``body``: a list (the root's items, e.g. services → service) or a dict (the root's fields)."""
    element = ET.Element(root)
    if isinstance(body, list):
        for item in body:
            _fill(element, ITEM[root], item)
    else:
        for key, value in body.items():
            _fill(element, key, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def respond(fmt: str, root: str, body, status_code: int = 200) -> Response:
    if fmt == "json":
        return Response(json.dumps(_jsonable(body), ensure_ascii=False), status_code=status_code,
                        media_type=JSON_TYPE)
    return Response(to_xml(root, body), status_code=status_code, media_type=XML_TYPE)


class Open311Error(Exception):
    """An error the specification names: 404 (unknown resource, service_code, token, jurisdiction), 403 (api_key),
    400 (anything else); ``errors`` are (code, description) pairs — several may go in one body."""

    def __init__(self, status_code: int, errors: list[tuple[int | str, str]]):
        super().__init__(errors[0][1] if errors else "")
        self.status_code, self.errors = status_code, errors

    @classmethod
    def one(cls, status_code: int, description: str, code: int | str | None = None) -> Open311Error:
        return cls(status_code, [(code if code is not None else status_code, description)])


def error_response(fmt: str, error: Open311Error) -> Response:
    body = [{"code": code, "description": description} for code, description in error.errors]
    return respond(fmt if fmt in FORMATS else "xml", "errors", body, error.status_code)
