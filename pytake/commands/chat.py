"""`pytake chat`: be a WhatsApp customer of a running PyTake, in the terminal.

What you type goes to PyTake as a signed inbound webhook (Meta's format);
the bot's replies are read from the sandbox's inbox for your number. Reply
buttons and list rows are shown as numbered choices: type the number (or the
title) to tap one. ``/quit`` (or Ctrl-D) leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from api.settings import Settings
    from api.whatsapp.config import WhatsAppConfig

    settings = Settings.from_env(keys=False)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="PyTake's base URL")
    parser.add_argument("--sandbox", default="http://127.0.0.1:8900", help="the sandbox's base URL")
    parser.add_argument("--phone-number-id", default=settings.extra.get("PYTAKE_DEMO_PHONE_NUMBER_ID", "100000000000001"),
                        help="the business number's phone_number_id")
    parser.add_argument("--wa-id", default="5511999990001", help="your (the customer's) WhatsApp number")
    parser.add_argument("--name", default="Cliente Demo", help="your WhatsApp profile name")
    parser.add_argument("--app-secret",
                        default=WhatsAppConfig.from_settings(settings).app_secret or "pytake-demo-secret")
    parser.add_argument("--app-key", default=None,
                        help="post to the organization's own Meta app (/webhooks/whatsapp/<app key>); "
                             "--app-secret is then that app's secret")
    parser.add_argument("--say", action="append", default=[], help="send this and exit after the replies (repeatable)")


def render(record: dict[str, Any]) -> tuple[str, list[tuple[str, str, str]]]:
    """Printable text of a bot message, and its choices ``(kind, id, title)``."""
    p = record.get("payload") or {}
    kind = p.get("type")
    choices: list[tuple[str, str, str]] = []
    if kind == "text":
        return p["text"].get("body", ""), choices
    if kind == "interactive":
        it = p["interactive"]
        lines = []
        if (it.get("header") or {}).get("text"):
            lines.append(f"*{it['header']['text']}*")
        lines.append(it.get("body", {}).get("text", ""))
        if it.get("type") == "button":
            for b in it["action"]["buttons"]:
                choices.append(("button", b["reply"]["id"], b["reply"]["title"]))
        else:
            lines.append(f"[{it['action'].get('button', 'Options')}]")
            for section in it["action"].get("sections", []):
                for r in section.get("rows", []):
                    choices.append(("list", r["id"], r["title"] + (f" — {r['description']}" if r.get("description") else "")))
        for i, (_, _, title) in enumerate(choices, 1):
            lines.append(f"  {i}) {title}")
        if (it.get("footer") or {}).get("text"):
            lines.append(f"_{it['footer']['text']}_")
        return "\n".join(lines), choices
    if kind in ("image", "video", "audio", "document", "sticker"):
        media = p.get(kind) or {}
        caption = media.get("caption") or ""
        return f"[{kind}] {media.get('link') or media.get('id', '')} {caption}".rstrip(), choices
    if kind == "template":
        tpl = p.get("template") or {}
        params = [prm.get("text") for c in tpl.get("components") or [] for prm in c.get("parameters") or []]
        return f"[template {tpl.get('name')}] {', '.join(str(x) for x in params)}".rstrip(), choices
    return f"[{kind}]", choices


async def _chat(args: argparse.Namespace) -> int:
    import httpx

    from api.sandbox import webhooks

    state: dict[str, Any] = {"choices": [], "next": 0}
    webhook_url = args.url.rstrip("/") + "/webhooks/whatsapp" + (f"/{args.app_key}" if args.app_key else "")
    inbox_url = f"{args.sandbox.rstrip('/')}/_sandbox/inbox/{args.wa_id}"
    async with httpx.AsyncClient(timeout=10.0) as client:
        try:
            state["next"] = (await client.get(inbox_url, params={"after": 0})).json()["next"]
        except (httpx.HTTPError, ValueError, KeyError):
            print(f"pytake chat: the sandbox does not answer at {args.sandbox}", file=sys.stderr)
            return 1

        async def poll_once() -> int:
            doc = (await client.get(inbox_url, params={"after": state["next"]})).json()
            for record in doc["messages"]:
                body, choices = render(record)
                if choices:
                    state["choices"] = choices
                print("\n".join(f"bot> {line}" if i == 0 else f"     {line}"
                                for i, line in enumerate(body.splitlines() or [""])), flush=True)
            state["next"] = doc["next"]
            return len(doc["messages"])

        async def poll_forever() -> None:
            while True:
                try:
                    await poll_once()
                except (httpx.HTTPError, ValueError):
                    pass
                await asyncio.sleep(0.3)

        async def send(line: str) -> None:
            message = webhooks.text_message(line)
            choices = state["choices"]
            picked = None
            if line.isdigit() and 1 <= int(line) <= len(choices):
                picked = choices[int(line) - 1]
            else:
                picked = next((c for c in choices if c[2].split(" — ")[0].lower() == line.lower()), None)
            if picked:
                kind, rid, title = picked
                title = title.split(" — ")[0]
                message = webhooks.button_reply(rid, title) if kind == "button" else webhooks.list_reply(rid, title)
                state["choices"] = []
            doc = webhooks.inbound_message(args.phone_number_id, args.wa_id, message, profile_name=args.name)
            response = await webhooks.post_signed(client, webhook_url, args.app_secret, doc)
            if response.status_code != 200:
                print(f"(PyTake answered HTTP {response.status_code}: {response.text[:200]})", file=sys.stderr)

        if args.say:
            for line in args.say:
                await send(line)
                await asyncio.sleep(1.0)
                await poll_once()
            await asyncio.sleep(1.0)
            await poll_once()
            return 0

        print(f"You are {args.name} (+{args.wa_id}). Type a message; /quit to leave.", flush=True)
        poller = asyncio.create_task(poll_forever())
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, "")
                except EOFError:
                    break
                line = line.strip()
                if line in ("/quit", "/exit"):
                    break
                if line:
                    try:
                        await send(line)
                    except httpx.HTTPError as exc:
                        print(f"(cannot reach PyTake at {args.url}: {exc!r})", file=sys.stderr)
        finally:
            poller.cancel()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_chat(args))
    except KeyboardInterrupt:
        return 0
