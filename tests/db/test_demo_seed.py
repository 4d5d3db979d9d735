"""`pytake demo`'s data: every example flow loaded and live, and an admin login that works."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from api.auth.passwords import verify_password
from api.db.models import Flow, FlowVersion, User, WhatsAppNumber
from api.settings import Settings
from pytake.commands.demo import DEMO_WABA_ID, EXAMPLE_FLOWS, REPO, demo_admin, seed


async def test_the_demo_loads_every_example_live_and_prints_a_working_admin_login(database_url, db, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    _, lines = await seed(settings, REPO / "examples")
    assert not [line for line in lines if "NOT LOADED" in line]
    async with db.session() as s:
        live = (await s.execute(select(func.count()).select_from(Flow).join(
            FlowVersion, (FlowVersion.flow_id == Flow.id) & (FlowVersion.version == Flow.version))
            .where(FlowVersion.published_at.is_not(None)))).scalar_one()
    assert live == len(EXAMPLE_FLOWS)

    email, password = await demo_admin(settings, db)
    async with db.session() as s:
        user = (await s.execute(select(User).where(User.email == email))).scalar_one()
    assert user.role == "org_admin" and verify_password(user.password_hash, password)
    assert await demo_admin(settings, db) == (email, password)  # the same login on every run
    assert (Path(tmp_path) / "demo-admin-password").stat().st_mode & 0o077 == 0


async def test_the_demo_number_has_a_business_account_so_templates_can_be_submitted(database_url, db, tmp_path):
    """The sandbox reviews and lists the demo's templates under the number's business account: without
    one the template form offered no number to submit from. A demo loaded before gets it on its next run."""
    from sqlalchemy import update

    settings = Settings(database_url=database_url, data_dir=tmp_path)
    await seed(settings, REPO / "examples")

    async def waba() -> str | None:
        async with db.session() as s:
            return (await s.execute(select(WhatsAppNumber.whatsapp_business_account_id))).scalar_one()
    assert await waba() == DEMO_WABA_ID
    async with db.transaction() as s:
        await s.execute(update(WhatsAppNumber).values(whatsapp_business_account_id=None))
    assert (await seed(settings, REPO / "examples"))[1] == ["(demo data already loaded)"]
    assert await waba() == DEMO_WABA_ID
