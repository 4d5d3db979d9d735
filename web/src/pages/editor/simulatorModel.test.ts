import { describe, expect, it } from "vitest";
import { messageChoices, messageText } from "./simulatorModel";

describe("simulator messages", () => {
  it("shows buttons and list rows as choices", () => {
    const buttons = { type: "button", content: { text: "Size?", buttons: [{ id: "p", title: "Small" }, { id: "g", title: "Large" }] } };
    expect(messageText(buttons)).toBe("Size?");
    expect(messageChoices(buttons).choices.map((c) => c.title)).toEqual(["Small", "Large"]);
    const list = { type: "list", content: { text: "Pick", button: "Menu", rows: [{ id: "a", title: "A", description: "first" }] } };
    expect(messageChoices(list)).toEqual({ choices: [{ id: "a", title: "A", description: "first" }], listButton: "Menu" });
  });

  it("shows a media message by its caption or its type", () => {
    expect(messageText({ type: "image", content: { caption: "Menu", link: "https://x/y.png" } })).toBe("Menu");
    expect(messageText({ type: "sticker", content: {} })).toBe("[sticker]");
    expect(messageChoices({ type: "text", content: { text: "hi" } }).choices).toEqual([]);
  });

  it("shows a template by its name and rendered parameters", () => {
    const template = { type: "template", content: { template: { name: "order_shipped", language: "pt_BR", parameters: ["Maria", "A-17"] } } };
    expect(messageText(template)).toBe("[template order_shipped: Maria, A-17]");
    expect(messageText({ type: "template", content: { template: { name: "hello" } } })).toBe("[template hello]");
  });
});
