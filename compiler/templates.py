"""What a `message` node's `template` must match when the organization's templates are known.

Saving a flow in an organization (and the editor's lint of a flow) passes the
templates of its organization as `KnownTemplate` values; `pytake lint` without
them checks only the shape. A template that is missing or not APPROVED is a
warning (it may be created or approved after the flow is drawn: the runtime
checks again before each send); parameters that do not match the approved
template are an error (Meta would refuse every send with 132000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

from compiler.diagnostics import Diagnostic, make, pointer
from compiler.load import Node
from compiler.node_types import as_dict, as_list

MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")


@dataclass(frozen=True)
class KnownTemplate:
    """One template of the organization, as the compiler needs it."""

    name: str
    language: str
    status: str  # Meta's: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...
    parameters: int  # the body's {{n}} count
    header: str | None = None  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION or None
    header_parameters: int = 0  # a TEXT header's {{1}}: 0 or 1


def check_template(node: Node, known: Collection[KnownTemplate]) -> list[Diagnostic]:
    template = as_dict(node.data.get("template"))
    name, language = template.get("name"), template.get("language") or "pt_BR"
    if not isinstance(name, str) or not name:
        return []
    here = pointer("nodes", node.index, "data", "template")
    matches = [t for t in known if t.name == name and t.language == language]
    if not matches:
        languages = sorted(t.language for t in known if t.name == name)
        return [make("template-unknown", node.id, here + "/name",
                     f"message {node.id!r}: template {name!r} ({language}) does not exist in this organization",
                     ("its languages: " + ", ".join(languages)) if languages else "create and submit it first")]
    found = next((t for t in matches if t.status == "APPROVED"), matches[0])
    out: list[Diagnostic] = []
    if found.status != "APPROVED":
        out.append(make("template-not-approved", node.id, here + "/name",
                        f"message {node.id!r}: template {name!r} ({language}) is {found.status}: until Meta "
                        "approves it, the flow reports an error here instead of sending it",
                        "wait for the review, or pick an approved template"))
    given = len(as_list(template.get("parameters")))
    if given != found.parameters:
        out.append(make("template-parameters", node.id, here + "/parameters",
                        f"message {node.id!r}: template {name!r} has {found.parameters} body parameters, "
                        f"{given} given", "give one value per {{n}} of the template's body, in order"))
    has_place = "header_location" in template
    if found.header == "LOCATION" and not has_place:
        out.append(make("template-parameters", node.id, here,
                        f"message {node.id!r}: template {name!r} has a LOCATION header: `header_location` "
                        "(its latitude and longitude) is required"))
    elif found.header != "LOCATION" and has_place:
        out.append(make("template-parameters", node.id, here + "/header_location",
                        f"message {node.id!r}: template {name!r} has no location header"))
    has_media, has_text = "header_media_url" in template, "header" in template
    if found.header in MEDIA_HEADERS and not has_media:
        out.append(make("template-parameters", node.id, here,
                        f"message {node.id!r}: template {name!r} has a {found.header} header: "
                        "`header_media_url` is required"))
    elif found.header not in MEDIA_HEADERS and has_media:
        out.append(make("template-parameters", node.id, here + "/header_media_url",
                        f"message {node.id!r}: template {name!r} has no media header"))
    if has_text != bool(found.header_parameters):
        needs = "needs a `header` parameter" if found.header_parameters else "has no header parameter"
        out.append(make("template-parameters", node.id, here + ("/header" if has_text else ""),
                        f"message {node.id!r}: template {name!r} {needs}"))
    return out
