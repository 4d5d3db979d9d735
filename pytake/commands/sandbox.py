"""`pytake sandbox`: the local stand-in for Meta's Graph API.

Point PyTake at it with ``PYTAKE_GRAPH_API_URL=http://127.0.0.1:8900``; it
posts signed status webhooks to ``--webhook-url`` with ``--app-secret`` (the
same secret PyTake checks: PYTAKE_WHATSAPP_APP_SECRET). A number of an
organization's own Meta app posts to that app's URL with its secret instead:
``--app PHONE_NUMBER_ID URL SECRET`` (URL: ``.../webhooks/whatsapp/<app key>``).
See docs/runtime.md.
"""

from __future__ import annotations

import argparse
import asyncio


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from api.settings import Settings
    from api.whatsapp.config import WhatsAppConfig

    app_secret = WhatsAppConfig.from_settings(Settings.from_env(keys=False)).app_secret or ""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8000/webhooks/whatsapp",
                        help="where status webhooks go (PyTake's webhook)")
    parser.add_argument("--app-secret", default=app_secret,
                        help="signs the webhooks (default: PYTAKE_WHATSAPP_APP_SECRET)")
    parser.add_argument("--app", nargs=3, action="append", default=[],
                        metavar=("PHONE_NUMBER_ID", "WEBHOOK_URL", "APP_SECRET"),
                        help="the number's webhooks go to its own Meta app's URL, signed with its secret "
                             "(repeatable)")
    parser.add_argument("--access-token", default=None, help="require this Bearer token on sends")
    parser.add_argument("--no-statuses", action="store_true", help="do not post status webhooks")
    parser.add_argument("--no-read", action="store_true", help="stop at 'delivered' (customers never read)")


def run(args: argparse.Namespace) -> int:
    from pytake.hosting.stack import Listen, _serve, install_signal_handlers
    from api.sandbox.server import SandboxConfig, create_sandbox_app

    app = create_sandbox_app(SandboxConfig(
        webhook_url=args.webhook_url, app_secret=args.app_secret or None, access_token=args.access_token,
        apps={pnid: {"webhook_url": url, "app_secret": secret} for pnid, url, secret in args.app},
        send_statuses=not args.no_statuses, auto_read=not args.no_read))

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        print(f"WhatsApp sandbox (Graph API) on http://{args.host}:{args.port}; "
              f"status webhooks -> {args.webhook_url}", flush=True)
        await _serve(app, Listen(args.host, args.port), stop)
        await app.aclose()

    from api.event_loop import run as run_loop

    run_loop(main())
    return 0
