import { describe, expect, it } from "vitest";
import { currentBefore, FIRST_PAGE, httpStatusKind, latency, type MessageLog, messagePreview, messageQuery,
  newer, older, requestQuery, timeline } from "./logsModel";

const message = (over: Partial<MessageLog>) => ({ message_id: "m", status_history: [], created_at: "2026-12-02T12:00:00Z",
  ...over }) as MessageLog;

describe("keyset pages", () => {
  it("goes older with the page's next_before and back newer the same way", () => {
    const second = older(FIRST_PAGE, "2026-12-02T12:00:00Z");
    const third = older(second, "2026-12-02T11:00:00Z");
    expect([currentBefore(FIRST_PAGE), currentBefore(second), currentBefore(third)])
      .toEqual([null, "2026-12-02T12:00:00Z", "2026-12-02T11:00:00Z"]);
    expect(newer(third)).toEqual(second);
    expect(newer(newer(second))).toEqual(FIRST_PAGE);
  });
});

describe("queries", () => {
  it("sends the words as typed, the direction, the status, the page's before and its size", () => {
    expect(messageQuery({ q: '  "pizza grande" -doce ', direction: "outbound", status: "read" }, null, 50))
      .toBe("q=%22pizza+grande%22+-doce&direction=outbound&status=read&limit=50");
    expect(messageQuery({ q: " ", direction: "", status: "" }, "2026-12-02T12:00:00+00:00", 10))
      .toBe("before=2026-12-02T12%3A00%3A00%2B00%3A00&limit=10");
  });
  it("sends the request filters that are set, the status code as typed (the API checks it)", () => {
    expect(requestQuery({ method: "POST", path: " /departments ", status_code: "201", user_id: "u1" }, null, 25))
      .toBe("method=POST&path=%2Fdepartments&status_code=201&user_id=u1&limit=25");
    expect(requestQuery({ method: "", path: "", status_code: "abc", user_id: "" }, null, 50)).toBe("status_code=abc&limit=50");
  });
});

describe("rows", () => {
  it("previews the text, else the content's text or caption, else the type", () => {
    expect(messagePreview(message({ text: "Oi" }))).toBe("Oi");
    expect(messagePreview(message({ content: { caption: "cardápio" }, type: "image" }))).toBe("cardápio");
    expect(messagePreview(message({ content: { text: { body: "olá" } } }))).toBe("olá");
    expect(messagePreview(message({ content: {}, type: "location" }))).toBe("[location]");
    expect(messagePreview(message({ content: {}, type: null }))).toBe("");
  });
  it("orders the status timeline as the lifecycle goes, not by Meta's second-rounded times", () => {
    const m = message({ status_history: [
      { status: "read", timestamp: "2026-12-02T12:00:09Z" }, { status: "delivered", timestamp: "2026-12-02T12:00:01Z" },
      { status: "sent", timestamp: "2026-12-02T12:00:01.940Z" }, { status: "failed", error: "131047" },
      { status: "mystery", timestamp: "2026-12-02T12:00:00Z" }] });
    expect(timeline(m).map((e) => e.status)).toEqual(["sent", "delivered", "read", "failed", "mystery"]);
  });
  it("colours HTTP statuses and writes latency in ms", () => {
    expect([200, 201, 304, 404, 422, 500].map(httpStatusKind)).toEqual(["ok", "ok", "", "wait", "wait", "error"]);
    expect(latency(12.345, "en")).toBe("12.3 ms");
    expect(latency(null, "en")).toBe("—");
  });
});
