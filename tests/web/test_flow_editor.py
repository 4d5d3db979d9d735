"""A flow designer's first session, in headless Chromium against `pytake serve`:
sign up, create a chatbot and a flow, draw it by dragging nodes from the palette
and wiring handles with the mouse, watch the compiler's diagnostic land on the
right node, fix it, save, reload and find the same canvas."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from .browser import connect, designer, drag_from_palette, edge, live_version, node, saved_canvas, settled_box
from .conftest import screenshot


async def test_design_a_flow_in_the_browser(web_server, browser_page: Page):
    async with asyncio.timeout(180):  # a stuck step fails with its line, not a hung run
        await design_a_flow(web_server, browser_page)


async def design_a_flow(web_server: str, page: Page) -> None:
    await page.goto(web_server + "/")
    await expect(page).to_have_url(re.compile(r"/app/login$"))
    await screenshot(page, "01-login")

    # sign up
    await page.get_by_role("link", name="Sign up").click()
    await page.get_by_label("Organization name").fill("Pizza Napoli")
    await page.get_by_label("Full name").fill("Ana Souza")
    await page.get_by_label("Email").fill("ana@pizza.example")
    await page.get_by_label("Password").fill("correct horse battery")
    await screenshot(page, "02-signup")
    await page.get_by_role("button", name="Sign up").click()

    # the first chatbot, then a flow
    await expect(page.get_by_text("You have no chatbot yet")).to_be_visible()
    await page.get_by_label("Chatbot name").fill("Pedidos")
    await page.get_by_role("button", name="Create chatbot").click()
    await page.get_by_label("New flow name").fill("Welcome")
    await screenshot(page, "03-flows")
    await page.get_by_role("button", name="Create flow").click()
    await expect(page).to_have_url(re.compile(r"/app/flows/[0-9a-f-]{36}$"))
    flow_id = page.url.rsplit("/", 1)[1]

    # draw: start → question, and an end node
    await drag_from_palette(page, "Start", 120, 160)
    await drag_from_palette(page, "Question", 420, 140)
    await drag_from_palette(page, "End", 760, 160)
    for node_id in ("start_1", "question_1", "end_1"):
        await expect(page.get_by_test_id(f"node-{node_id}")).to_be_visible()
    await connect(page, "start_1", "next", "question_1")
    await expect(page.locator(".react-flow__edge")).to_have_count(1)

    # the compiler flags the question (empty, and its `next` leads nowhere), not the start
    question = page.get_by_test_id("node-question_1")
    await expect(question.locator(".node-badge.error")).to_be_visible()
    await expect(page.get_by_test_id("node-start_1").locator(".node-badge")).to_have_count(0)
    problems = page.get_by_role("region", name="Problems")
    problem = problems.get_by_role("button", name=re.compile("required handle 'next' is not connected"))
    await expect(problem).to_be_visible()
    await screenshot(page, "04-diagnostic")

    # a click on the problem selects the node; its form shows the missing fields
    await problem.click()
    properties = page.get_by_role("complementary", name="Properties")
    await expect(properties.get_by_role("heading", name="Question")).to_be_visible()
    await expect(properties.get_by_label("Text")).to_have_attribute("aria-invalid", "true")
    await properties.get_by_label("Text").fill("What is your name?")
    await properties.get_by_label("Variable").fill("name")
    await page.get_by_role("button", name="Fit view", exact=True).click()
    await connect(page, "question_1", "next", "end_1")
    await expect(page.locator(".react-flow__edge")).to_have_count(2)
    # a customer whose answers are all invalid would hear nothing: a warning on the question
    await expect(problems.get_by_text("0 error(s) · 1 warning(s)")).to_be_visible()
    await expect(problems.get_by_text("handle 'invalid' is not connected")).to_be_visible()
    # its severity in the page's language
    await page.get_by_label("Language").select_option("pt-BR")
    problemas = page.get_by_role("region", name="Problemas")
    await expect(problemas.get_by_text("0 erro(s) · 1 aviso(s)")).to_be_visible()
    await expect(problemas.locator(".sev")).to_have_text(["aviso"])
    # and the node's form: its labels and help (the schema's, in English) translated
    propriedades = page.get_by_role("complementary", name="Propriedades")
    await expect(propriedades.get_by_label("Variável")).to_have_value("name")
    await expect(propriedades.get_by_label("Máximo de tentativas")).to_be_visible()
    await expect(propriedades.get_by_text("Aceita {{variáveis}}.", exact=True)).to_be_visible()  # the text's help
    await expect(propriedades.get_by_text("Envia o texto, espera a resposta, valida e guarda em variable.",
                                          exact=False)).to_be_visible()  # what the node does
    await screenshot(page, "04b-properties-pt-BR")
    await page.get_by_label("Idioma").select_option("en")
    await expect(problems.locator(".sev")).to_have_text(["warning"])
    await connect(page, "question_1", "invalid", "end_1")
    await expect(page.locator(".react-flow__edge")).to_have_count(3)
    await expect(question.locator(".node-badge")).to_have_count(0)
    await expect(problems.get_by_text("0 error(s) · 0 warning(s)")).to_be_visible()
    await screenshot(page, "05-fixed")

    # save a draft (Ctrl+S): customers do not see it; publish makes it live
    await page.keyboard.press("Control+s")
    await expect(page.get_by_role("status")).to_have_text(
        "Draft saved as version 1. Customers still see the published version.")
    assert await live_version(page, flow_id) is None
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status")).to_have_text("Version 1 is live.")
    assert await live_version(page, flow_id) == 1

    # reload: the same canvas
    saved = await saved_canvas(page, flow_id)
    assert [(n["id"], n["type"]) for n in saved["nodes"]] == [
        ("start_1", "start"), ("question_1", "question"), ("end_1", "end")]
    assert saved["nodes"][1]["data"] == {"text": "What is your name?", "variable": "name"}
    assert {(e["source"], e["sourceHandle"], e["target"]) for e in saved["edges"]} == {
        ("start_1", "next", "question_1"), ("question_1", "next", "end_1"), ("question_1", "invalid", "end_1")}

    await page.reload()
    await expect(page.get_by_test_id("node-question_1")).to_contain_text("What is your name?")
    # edges are drawn once React Flow has measured the nodes' handles: fit the view, as a
    # person does after opening a flow, and give a loaded machine time to draw them
    await page.get_by_role("button", name="Fit view", exact=True).click()
    await expect(page.locator(".react-flow__edge")).to_have_count(3)
    await expect(page.locator(".react-flow__edge-text").first).to_have_text("next")
    await expect(problems.get_by_text("0 error(s) · 0 warning(s)")).to_be_visible()
    await screenshot(page, "06-reloaded")
    assert await saved_canvas(page, flow_id) == saved


async def test_a_problem_badge_does_not_move_the_handles(web_server, browser_page: Page):
    """The compiler's answer lands while the designer works: a node that gains or loses its
    problem badge keeps its size, so a handle about to be grabbed stays under the pointer."""
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        # two identical messages; only the second has problems (nothing reaches it, nothing leaves it)
        flow = await me.flow("Twins", {
            "nodes": [node("start", "start", {}, 0, 100), node("fine", "message", {"text": "Hi"}, 300, 100),
                      node("end", "end", {}, 620, 100), node("lost", "message", {"text": "Hi"}, 300, 300)],
            "edges": [edge("start", "fine"), edge("fine", "end")],
        })
        await me.open(f"/app/flows/{flow['id']}")
        fine, lost = page.get_by_test_id("node-fine"), page.get_by_test_id("node-lost")
        await expect(lost.locator(".node-badge")).to_be_visible()
        await expect(fine.locator(".node-badge")).to_have_count(0)
        fine_box, lost_box = await settled_box(page, fine), await settled_box(page, lost)
        assert lost_box["height"] == fine_box["height"], (fine_box, lost_box)
        fine_handle = await settled_box(page, fine.locator(".react-flow__handle.source"))
        lost_handle = await settled_box(page, lost.locator(".react-flow__handle.source"))
        assert lost_handle["y"] - lost_box["y"] == fine_handle["y"] - fine_box["y"]
