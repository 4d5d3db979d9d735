"""`pytake demo` (what `make run` runs): the whole platform on one machine.

Starts embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are
set), migrates, loads a demo organization with a WhatsApp number and a
chatbot running the flows of `examples/`, then serves the API, a worker and
the WhatsApp sandbox, and prints how to chat with the bot. Ctrl-C stops
everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path

DEMO_PHONE_NUMBER_ID = "100000000000001"
# the demo number's WhatsApp Business Account at the sandbox: templates are submitted, reviewed and
# synced there, so the demo's templates and campaigns work end to end (without one, the template
# form had no number to submit from)
DEMO_WABA_ID = "200000000000001"
DEMO_SECRET = "pytake-demo-secret"
REPO = Path(__file__).resolve().parents[2]

# example file → (flow type, trigger keywords)
EXAMPLE_FLOWS = {
    "pizza_order": ("main", []),
    "support_triage": ("main", ["suporte", "ajuda", "problema"]),
    "appointment_booking": ("main", ["agendar", "agendamento", "horário"]),
    "lead_qualification": ("main", ["orçamento", "vendas", "comprar"]),
    "nps_followup": ("sub", []),
    "nps_survey": ("main", ["nps", "pesquisa", "avaliar"]),
    "ai_faq": ("main", ["faq", "dúvida", "pergunta"]),
}
DEMO_ADMIN_EMAIL = "admin@pytake.local"
DEPARTMENTS = ("Atendimento", "Financeiro", "Pedidos", "Recepção", "Suporte", "Vendas")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="API port")
    parser.add_argument("--sandbox-port", type=int, default=8900)
    parser.add_argument("--examples", default=str(REPO / "examples"), help="folder of example flows")


def _read(path: Path, sandbox_url: str | None, rewrite) -> str:
    text = path.read_text("utf-8")
    return rewrite(text, sandbox_url) if sandbox_url else text


async def demo_admin(settings, db) -> tuple[str, str]:
    """The demo organization's admin login, created once: its password is generated on
    the first run and kept in the data dir (``demo-admin-password``), so every run can print it."""
    import secrets as token_source

    from sqlalchemy import select

    from api.auth.passwords import hash_password_async
    from api.db.models import Organization, User

    path = Path(settings.data_dir) / "demo-admin-password"
    async with db.transaction() as s:
        exists = (await s.execute(select(User.id).where(User.email == DEMO_ADMIN_EMAIL))).scalar()
        if exists is not None and path.exists():
            return DEMO_ADMIN_EMAIL, path.read_text("utf-8").strip()
        password = token_source.token_urlsafe(12)
        org_id = (await s.execute(select(Organization.id).where(Organization.slug == "pytake-demo"))).scalar_one()
        hashed = await hash_password_async(password)
        if exists is None:
            s.add(User(organization_id=org_id, email=DEMO_ADMIN_EMAIL, password_hash=hashed,
                       full_name="Demo Admin", role="org_admin", email_verified=True))
        else:  # the file was lost: a new password
            (await s.get(User, exists)).password_hash = hashed
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n", "utf-8")
    path.chmod(0o600)
    return DEMO_ADMIN_EMAIL, password


async def _demo_waba(db) -> None:
    """The demo number's business account (`DEMO_WABA_ID`), unless it has one."""
    from sqlalchemy import text

    async with db.transaction() as s:
        await s.execute(text(
            "UPDATE whatsapp_numbers SET whatsapp_business_account_id = :waba WHERE phone_number_id = :pnid "
            "AND COALESCE(whatsapp_business_account_id, '') = ''"), {"waba": DEMO_WABA_ID, "pnid": DEMO_PHONE_NUMBER_ID})


async def seed(settings, examples: Path, sandbox_url: str | None = None) -> tuple[str, list[str]]:
    """Create the demo organization once; returns (phone_number_id, flow summary lines).
    With ``sandbox_url``, the examples' made-up API hosts point at the sandbox's stand-ins."""
    from api.sandbox.example_apis import demo_url

    from api.db.models import Department
    from api.db.session import Database
    from pytake.hosting.seed import add_flow, find_number, seed_organization

    db = Database(settings.database_url)
    try:
        if await find_number(db, DEMO_PHONE_NUMBER_ID) is not None:
            await _demo_waba(db)  # a demo loaded before the number had its business account
            return DEMO_PHONE_NUMBER_ID, ["(demo data already loaded)"]
        seeded = await seed_organization(db, phone_number_id=DEMO_PHONE_NUMBER_ID, slug="pytake-demo", chatbot={
            "name": "Assistente Demo",
            "fallback_message": "Desculpe, não entendi. Digite *suporte*, *agendar*, *orçamento* ou *nps*.",
            "handoff_keywords": ["atendente", "humano"],
            "away_message": "Nossa equipe atende de segunda a sexta, das 9h às 18h. Já deixamos você na fila!",
            "business_hours": {"timezone": "America/Sao_Paulo",
                               "days": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}},
        })
        await _demo_waba(db)
        async with db.transaction() as s:
            s.add_all([Department(organization_id=seeded.organization_id, name=n) for n in DEPARTMENTS])
        pending = {name: json.loads(_read(examples / f"{name}.json", sandbox_url, demo_url))
                   for name in EXAMPLE_FLOWS if (examples / f"{name}.json").exists()}
        lines: list[str] = []
        errors: dict[str, str] = {}
        while pending:  # flows that jump to others compile once those exist
            progress = False
            for name, canvas in list(pending.items()):
                kind, keywords = EXAMPLE_FLOWS[name]
                try:
                    await add_flow(db, seeded, name, canvas, type=kind, keywords=keywords)
                except ValueError as exc:
                    errors[name] = str(exc)
                    continue
                del pending[name]
                progress = True
                lines.append(f"  {name:<20} " + (", ".join(keywords) if keywords else
                                                 ("(main flow: any message)" if kind == "main" and not keywords else "(sub-flow)")))
            if not progress:
                for name in pending:
                    lines.append(f"  {name:<20} NOT LOADED: {errors.get(name)}")
                break
        return DEMO_PHONE_NUMBER_ID, lines
    finally:
        await db.dispose()


async def _admin_login(settings) -> tuple[str, str]:
    from api.db.session import Database

    db = Database(settings.database_url)
    try:
        return await demo_admin(settings, db)
    finally:
        await db.dispose()


def run(args: argparse.Namespace) -> int:
    from api.event_loop import run as run_loop
    from pytake.hosting.stack import Listen, prepare_settings, run_stack
    from api.sandbox.server import SandboxConfig, create_sandbox_app
    from api.settings import Settings, SettingsError
    from api.whatsapp.config import WhatsAppConfig

    from api.log_context import configure_logging

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pytake demo: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, logging.WARNING)
    print("Starting PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set)...", flush=True)
    settings = prepare_settings(settings)
    secret = WhatsAppConfig.from_settings(settings).app_secret or DEMO_SECRET
    sandbox_url = f"http://{args.host}:{args.sandbox_port}"
    api_url = f"http://{args.host}:{args.port}"
    extra = {**dict(settings.extra or {}), "PYTAKE_WHATSAPP_APP_SECRET": secret, "PYTAKE_GRAPH_API_URL": sandbox_url,
             # the example flows call the sandbox's stand-ins of their APIs, on this machine
             "PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS": "1"}
    ai_note = "OpenAI/Anthropic keys from the environment"
    settings = dataclasses.replace(settings, extra=extra)
    if not settings.openai_api_key:
        settings = dataclasses.replace(settings, openai_api_key="demo", openai_base_url=f"{sandbox_url}/v1")
        ai_note = "no OPENAI_API_KEY: the sandbox's stand-in answers"
    phone_number_id, lines = asyncio.run(seed(settings, Path(args.examples), sandbox_url))
    email, password = asyncio.run(_admin_login(settings))
    sandbox = create_sandbox_app(SandboxConfig(webhook_url=f"{api_url}/webhooks/whatsapp", app_secret=secret))

    def ready() -> None:
        print("\n".join([
            "",
            "PyTake demo is running:",
            f"  web app             {api_url}/  (log in as {email} / {password}, or sign up)",
            f"  API                 {api_url}  (docs: {api_url}/docs, webhook: {api_url}/webhooks/whatsapp)",
            f"  WhatsApp sandbox    {sandbox_url}  (Graph API stand-in, the examples' APIs)",
            f"  AI                  {ai_note}",
            "  worker              in this process",
            "",
            "Demo chatbot flows (keyword → flow):",
            *lines,
            "  atendente / humano   hand the conversation to a human",
            "",
            "Chat with it from another terminal:",
            f"  .venv/bin/pytake chat --url {api_url} --sandbox {sandbox_url} "
            f"--phone-number-id {phone_number_id} --app-secret {secret}",
            "",
            "Ctrl-C stops everything.",
        ]), flush=True)

    run_loop(run_stack(settings, api=Listen(args.host, args.port), worker=True,
                          sandbox=Listen(args.host, args.sandbox_port), sandbox_app=sandbox, ready=ready))
    print("PyTake demo stopped.", flush=True)
    return 0
