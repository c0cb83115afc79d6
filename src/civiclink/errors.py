"""Domain errors. Each carries the HTTP status the API answers with and a plain-Chinese message.

Actions raise these *before* they change anything, so a refused action leaves no trace (the caller's
transaction is rolled back in any case).
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field

    def as_dict(self) -> dict:
        body = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StaleVersion(Conflict):
    code = "stale_version"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


# -- how errors look over HTTP (documented in the OpenAPI of every route) -------------------------------------

from pydantic import BaseModel  # noqa: E402


class FieldError(BaseModel):
    loc: list[str]
    msg: str


class ErrorRead(BaseModel):
    detail: str
    code: str
    field: str | None = None
    errors: list[FieldError] | None = None


ERROR_RESPONSES = {
    401: {"model": ErrorRead, "description": "未登录或令牌无效"},
    403: {"model": ErrorRead, "description": "角色或单位无权操作"},
    404: {"model": ErrorRead, "description": "不存在"},
    409: {"model": ErrorRead, "description": "状态不允许、版本已过期或数据冲突"},
    422: {"model": ErrorRead, "description": "请求内容不合法"},
}
