"""The WhatsApp sandbox: a local stand-in for Meta's Graph API.

It speaks the Cloud API's routes and JSON (``POST /{version}/{phone_number_id}/messages``),
answers errors in Meta's format, posts signed status webhooks (sent, delivered,
read) back to PyTake and keeps an inbox per customer for `pytake chat`.
"""

from api.sandbox.server import SandboxConfig, SandboxState, create_sandbox_app

__all__ = ["SandboxConfig", "SandboxState", "create_sandbox_app"]
