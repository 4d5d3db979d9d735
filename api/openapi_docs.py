"""Error responses and summaries in /openapi.json, added to what quart-schema generates.

Routes only declare their success response (`document_response`); this
module's `DocumentedOpenAPIProvider` (plugged into `QuartSchema` by
`api.app.create_app`) adds to every operation, with the one error body of
`api.errors` (`ErrorResponse`):

| status | when it is documented |
|---|---|
| 400 | routes that take a JSON body: not UTF-8 JSON within 64 levels (`api.json_body`) |
| 401 | authenticated routes (`@require`), and login/refresh (bad credentials) |
| 403 | routes whose `@require` names a permission (role lacks it; plan limits) |
| 404 | routes with an id in the path (unknown, deleted, or another organization's; the platform's `/admin/...` routes: unknown) |
| 409 | creates/updates of a resource whose table has a unique key, and the actions in `CONFLICTS` |
| 413 | routes that take a body |
| 415 | routes that take a JSON body: sent with another Content-Type |
| 422 | routes with a body or query parameters |
| 429 | authenticated routes (per-user limit) and the per-IP limited `IP_RATE_LIMITED` |
| 502 | the actions in `META_CALLS` (Meta's Graph API failed; they answer 422 too when Meta refuses) |

a request body documented as required when ``{}`` is not a valid one (a missing
body is read as ``{}``), a 204 documented without content (it has no body), and a ``summary`` where the view has no docstring, from its operation id
(``list_conversations`` → "List conversations"). Path ids are documented as
``format: uuid`` (quart-schema says only ``string``). What is derived from the
routes themselves (authentication, permission, path ids, body, query) needs
no upkeep; the small tables below name the exceptions.
`tests/api/test_openapi_errors.py` checks the documented statuses against
real responses, and the schemathesis run checks every status it provokes is
documented.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from pydantic import ValidationError
from quart_schema.openapi import QUART_SCHEMA_OPERATION_ID_ATTRIBUTE, OpenAPIProvider
from sqlalchemy import UniqueConstraint
from werkzeug.routing import UUIDConverter
from werkzeug.routing.converters import BaseConverter
from werkzeug.routing.rules import Rule

from api.auth.permissions import REQUIRED_PERMISSION_ATTR, is_cross_organization
from api.errors import ErrorResponse
from api.json_body import API_MAX_DEPTH

ERROR_SCHEMA_REF = "#/components/schemas/ErrorResponse"

# Unauthenticated endpoints limited per client IP (`api.ratelimit.rate_limit`).
IP_RATE_LIMITED = frozenset({"auth.signup", "auth.login", "auth.refresh"})
# Unauthenticated endpoints that answer 401 for bad credentials.
CREDENTIAL_401 = frozenset({"auth.login", "auth.refresh"})
# Endpoints that take a body quart-schema does not describe (CSV upload).
UNDESCRIBED_BODY = frozenset({"contacts.import_csv", "media.upload_media"})
# Bodies and answers that are not JSON, documented as they are: endpoint → (status or
# "requestBody", the OpenAPI object)
NON_JSON: dict[str, dict[Any, dict[str, Any]]] = {
    "media.upload_media": {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": {
            "type": "string", "format": "binary",
            "description": "a file WhatsApp carries: image (jpeg, png ≤ 5 MB), video (mp4, 3gpp), audio "
                           "(aac, amr, mpeg, mp4, ogg), document (pdf, text, Office), sticker (webp); at "
                           "most 16 MB through this API"}}}}}}},
    "media.get_message_media": {200: {
        "description": "The file, with its Content-Type and a Content-Disposition (`inline` for images, "
                       "audio and video, `attachment` for documents).",
        "headers": {"Content-Disposition": {"schema": {"type": "string"}},
                    "X-Content-Type-Options": {"schema": {"const": "nosniff"}}},
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
}
# Endpoints that look up an id given in the body, not the path (404 when it is not the
# caller organization's): endpoint → what the id names.
BODY_ID_404: dict[str, str] = {"flows.lint_flow_canvas": "flow_id", "templates.sync_templates": "whatsapp_number_id"}
# Actions that refuse a change clashing with existing state (409 ``conflict``),
# beyond the unique keys found automatically for generic creates and updates.
CONFLICTS: dict[str, str] = {
    "auth.signup": "an account with this email already exists",
    "users.update_user": "you cannot change your own role or deactivate yourself",
    "users.delete_user": "you cannot delete yourself",
    "departments.add_agent": "the user is already an agent of this department",
    "conversations.assign": "the conversation is closed",
    "conversations.transfer": "the conversation is closed",
    "conversations.close": "the conversation is already closed",
    "messages.reply": "the conversation is closed",
    "flows.save_flow_canvas": "another save of this flow's canvas won the race; retry",
    "flows.publish_flow": "the flow has no canvas that compiles",
    "admin.update_organization": "the organization is deleted, or you would deactivate your own",
    "templates.submit_template": "the template was already submitted to Meta",
    "media.get_message_media": "the media is not stored (still being fetched, or it failed: the message says why)",
}

# Actions that call Meta's Graph API: 422 when Meta (or the check made before calling it)
# refuses the request, 502 when Meta fails or cannot be reached.
META_CALLS = frozenset({"templates.submit_template", "templates.sync_templates", "templates.delete_template",
                        "messages.reply"})  # a reply with an upload_id uploads it to Meta first
# Endpoints that read the log store (api/logstore): 503 while it cannot be reached (MongoDB down).
LOG_STORE_READS = frozenset({"logs.search_message_logs", "logs.get_conversation_log", "logs.list_webhook_logs",
                             "logs.list_api_request_logs"})

# Endpoints that read or write the media store (api/media): 503 while it cannot (S3 down or refusing).
MEDIA_STORE_USERS = frozenset({"media.upload_media", "media.get_message_media", "messages.reply"})

DESCRIPTIONS = {
    400: f"The body is not UTF-8 JSON nested at most {API_MAX_DEPTH} levels (`malformed_json`; "
         "`details` says why).",
    401: "Missing, invalid, expired or revoked bearer token (`unauthorized`, `invalid_token`, "
         "`token_expired`, `token_revoked`), or the user's sessions were ended (`session_ended`).",
    404: "No such {what}{where} (`not_found`).",
    409: "Conflicts with existing data (`conflict`){why}.",
    413: "Request body too large (`payload_too_large`).",
    415: "The body is not sent as `application/json` (`unsupported_media_type`).",
    422: "Invalid request (`validation_error`): `field` and `details` name what is wrong.",
    429: "Too many requests (`rate_limited`); retry after `Retry-After` seconds.",
}
HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds until the limit resets",
                          "schema": {"type": "integer", "minimum": 1}}},
}
WORDS = {"whatsapp": "WhatsApp", "csv": "CSV", "id": "ID"}


def summary_from_operation_id(operation_id: str) -> str:
    """``list_whatsapp_numbers`` → "List WhatsApp numbers"."""
    words = [WORDS.get(word, word) for word in operation_id.split("_") if word]
    if not words:
        return operation_id
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


@cache
def unique_key_endpoints() -> frozenset[str]:
    """Endpoints of generic creates/updates whose table has a unique key (besides its id)."""
    from api.resources import Resource
    import api.routes

    endpoints: set[str] = set()
    for info in pkgutil.iter_modules(api.routes.__path__):
        module = importlib.import_module(f"api.routes.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Resource) and _has_unique_key(value.model):
                if value.create is not None:
                    endpoints.add(f"{value.name}.create_{value.label}")
                if value.update is not None:
                    endpoints.add(f"{value.name}.update_{value.label}")
    return frozenset(endpoints)


def _has_unique_key(model: type) -> bool:
    table = model.__table__
    return (any(isinstance(c, UniqueConstraint) for c in table.constraints)
            or any(index.unique for index in table.indexes))


def _error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def error_statuses(endpoint: str, method: str, view: Any, operation: dict[str, Any]) -> dict[int, str]:
    """Status → description of the errors the operation can answer."""
    authenticated = hasattr(view, REQUIRED_PERMISSION_ATTR)
    permission = getattr(view, REQUIRED_PERMISSION_ATTR, None)
    parameters = operation.get("parameters", [])
    path_ids = [p["name"] for p in parameters if p.get("in") == "path"]
    has_query = any(p.get("in") == "query" for p in parameters)
    has_body = "requestBody" in operation or endpoint in UNDESCRIBED_BODY
    statuses: dict[int, str] = {}
    if "requestBody" in operation:
        statuses[400] = DESCRIPTIONS[400]
    if authenticated:
        statuses[401] = DESCRIPTIONS[401]
    elif endpoint in CREDENTIAL_401:
        statuses[401] = "Invalid credentials or refresh token (`invalid_credentials`, " \
                        "`invalid_refresh_token`, `refresh_token_expired`, `refresh_token_reused`, " \
                        "`session_ended`)."
    if permission is not None:
        statuses[403] = f"Authenticated, but the caller's role lacks `{permission}` (`forbidden`)"
        if (permission.endswith(":write") and method.upper() in ("POST", "PATCH", "PUT")
                and not is_cross_organization(permission)):
            statuses[403] += ", or a limit of the organization's plan is reached (`plan_limit_exceeded`)"
        if permission in ("users:write", "users:delete"):  # api.auth.role_ceiling
            statuses[403] += (", or the user or the role granted is above the caller's role "
                              "(`role_ceiling`)")
        statuses[403] += "."
    if endpoint in BODY_ID_404:
        statuses[404] = DESCRIPTIONS[404].format(what=f"resource ({BODY_ID_404[endpoint]})",
                                                 where=" in the caller's organization")
    if path_ids:
        what = " / ".join(path_ids)
        # the platform's routes (`api.routes.admin`) look ids up in every organization
        where = "" if is_cross_organization(permission) else " in the caller's organization"
        statuses[404] = DESCRIPTIONS[404].format(what=f"resource ({what})", where=where)
    conflicts = [CONFLICTS[endpoint]] if endpoint in CONFLICTS else []
    if endpoint in unique_key_endpoints():
        conflicts.append("a unique value (named in `field`) is taken")
    if conflicts:
        statuses[409] = DESCRIPTIONS[409].format(why=": " + "; ".join(conflicts))
    if has_body:
        statuses[413] = DESCRIPTIONS[413]
    if "requestBody" in operation:
        statuses[415] = DESCRIPTIONS[415]
    if has_body or has_query or endpoint in META_CALLS:
        statuses[422] = DESCRIPTIONS[422]
    if endpoint in META_CALLS:
        statuses[502] = "Meta's Graph API failed or could not be reached (`meta_unavailable`); nothing changed."
    if authenticated or endpoint in IP_RATE_LIMITED:
        statuses[429] = DESCRIPTIONS[429]
    if endpoint in LOG_STORE_READS:
        statuses[503] = "The log store cannot be reached (`log_store_unavailable`); try again later."
    if endpoint in MEDIA_STORE_USERS:
        statuses[503] = ("The media store cannot be used (`media_store_unavailable`: S3 unreachable, or "
                         "refusing the credentials or the bucket; the message says which); try again later.")
    return statuses


def body_is_required(model: type) -> bool:
    """A missing body is read as ``{}`` (`api.resources.body.read_json`), so it is optional
    exactly when ``{}`` is a valid body."""
    try:
        model.model_validate({})  # type: ignore[attr-defined]
    except (ValidationError, AttributeError):
        return True
    return False


def document_operation(endpoint: str, method: str, view: Any, operation: dict[str, Any]) -> None:
    """Add the error responses and (if missing) a summary to one operation object, in place."""
    responses = dict(operation.get("responses", {}))  # quart-schema shares it across methods
    for status, description in error_statuses(endpoint, method, view, operation).items():
        responses.setdefault(status, _error_response(status, description))
    for key, documented in NON_JSON.get(endpoint, {}).items():
        if key == "requestBody":
            operation["requestBody"] = documented
        else:
            responses[key] = documented
    if 204 in responses or "204" in responses:  # no body, no Content-Type (`api.app`)
        key = 204 if 204 in responses else "204"
        responses[key] = {k: v for k, v in responses[key].items() if k != "content"}
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: int(item[0])))
    if not operation.get("summary"):
        declared = getattr(view, QUART_SCHEMA_OPERATION_ID_ATTRIBUTE, None) or view.__name__
        operation["summary"] = summary_from_operation_id(declared)


def error_components() -> dict[str, Any]:
    """``ErrorResponse`` and the models it refers to, as OpenAPI component schemas."""
    schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components["ErrorResponse"] = schema
    return components


class DocumentedOpenAPIProvider(OpenAPIProvider):
    """quart-schema's provider, plus error responses and summaries on every operation."""

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        for methods in paths.values():
            for method, operation in list(methods.items()):
                methods[method] = operation = dict(operation)
                document_operation(rule.endpoint, method, view, operation)
        return paths, components

    def build_request_body(self, model: type, source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        body, components = super().build_request_body(model, source)
        if body_is_required(model):
            body = {**body, "required": True}
        return body, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, UUIDConverter):  # quart-schema says only "string"
            parameter["schema"] = {"type": "string", "format": "uuid"}
        return parameter

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        document["components"]["schemas"].update(error_components())
        return document
