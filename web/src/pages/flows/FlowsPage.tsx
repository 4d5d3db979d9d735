import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, errorText } from "../../api/client";
import { can, useMe } from "../../api/me";
import type { Canvas, Chatbot, Diagnostic, Flow, Page } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { downloadJson, fileStem, readCanvasFile, setPendingCanvas, slug } from "../../components/files";
import { useI18n } from "../../i18n";
import { navigate } from "../../router";
import { distinct } from "../editor/useDiagnostics";
import { ChatbotPicker } from "./ChatbotPicker";
import { FlowRow } from "./FlowRow";
import { ErrorBanner } from "../../components/ErrorBanner";

const CHATBOT_KEY = "pytake.chatbot";

/** A chatbot's flows: create, rename, delete, import, export, open in the editor. A role that only
 *  reads flows (agent, viewer: docs/permissions.md) opens and exports them; the rest is left out. */
export function FlowsPage() {
  const { t } = useI18n();
  const me = useMe();
  const mayWrite = can(me, "flows:write");
  const [chatbots, setChatbots] = useState<Chatbot[] | null>(null);
  const [chatbotId, setChatbotId] = useState<string | null>(() => localStorage.getItem(CHATBOT_KEY));
  const [flows, setFlows] = useState<Flow[] | null>(null);  // null: on its way
  const [newFlow, setNewFlow] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [rejected, setRejected] = useState<{ name: string; canvas: Canvas; diagnostics: Diagnostic[] } | null>(null);
  const upload = useRef<HTMLInputElement>(null);

  const report = (err: unknown) => setError(errorText(err));

  const loadChatbots = useCallback(async () => {
    const page = await api<Page<Chatbot>>("GET", "/chatbots?per_page=100&sort=name");
    setChatbots(page.items);
    setChatbotId((current) =>
      page.items.some((c) => c.id === current) ? current : (page.items[0]?.id ?? null));
  }, []);

  const loadFlows = useCallback(async (id: string) => {
    const page = await api<Page<Flow>>("GET", `/flows?chatbot_id=${id}&per_page=100&sort=name`);
    setFlows(page.items);
  }, []);

  useEffect(() => { loadChatbots().catch(report); }, [loadChatbots]);
  useEffect(() => {
    if (!chatbotId) return;
    localStorage.setItem(CHATBOT_KEY, chatbotId);
    loadFlows(chatbotId).catch(report);
  }, [chatbotId, loadFlows]);

  async function createChatbot(name: string) {
    const bot = await api<Chatbot>("POST", "/chatbots", { name });
    await loadChatbots().catch(report);  // created: a list that did not load again is the page's problem
    setChatbotId(bot.id);
  }

  async function createFlow(e: FormEvent) {
    e.preventDefault();
    if (!chatbotId || !newFlow.trim()) return;
    try {
      const flow = await api<Flow>("POST", "/flows", { chatbot_id: chatbotId, name: newFlow.trim() });
      setNewFlow("");
      navigate(`/app/flows/${flow.id}`);
    } catch (err) {
      report(err);
    }
  }

  async function openImported(name: string, canvas: Canvas) {
    if (!chatbotId) return;
    const flow = await api<Flow>("POST", "/flows", { chatbot_id: chatbotId, name });
    setPendingCanvas(flow.id, canvas);
    navigate(`/app/flows/${flow.id}`);
  }

  /** A file that is not a canvas is refused; one the compiler rejects shows its errors first. */
  async function importFile(file: File) {
    if (!chatbotId) return;
    setRejected(null);
    setError(null);
    let canvas: Canvas;
    try {
      canvas = await readCanvasFile(file);
    } catch (err) {
      setError(t("flows.importNotCanvas", { message: errorText(err) }));
      return;
    }
    // named by its file's stem, as `pytake lint`/`run` and the demo name a folder's flows, so a jump
    // naming another imported flow finds it (flow_schemas/README.md), not by the canvas's own
    // "name" (a display title in the examples)
    const name = fileStem(file.name);
    try {
      const { diagnostics } = await api<{ diagnostics: Diagnostic[] }>("POST", "/flows/lint", { canvas_data: canvas });
      const errors = distinct(diagnostics).filter((d) => d.severity === "error");
      if (errors.length) setRejected({ name, canvas, diagnostics: errors });
      else await openImported(name, canvas);
    } catch (err) {
      report(err);
    }
  }

  /** Rejects when the API refuses the name: the row keeps it in its field with the reason. */
  async function rename(flow: Flow, name: string) {
    await api("PATCH", `/flows/${flow.id}`, { name });
    if (chatbotId) await loadFlows(chatbotId).catch(report);
  }

  async function remove(flow: Flow) {
    if (!confirm(t("flows.confirmDelete", { name: flow.name }))) return;
    await api("DELETE", `/flows/${flow.id}`).catch(report);
    if (chatbotId) await loadFlows(chatbotId);
  }

  async function exportFlow(flow: Flow) {
    const full = await api<Flow>("GET", `/flows/${flow.id}`);
    downloadJson(`${slug(flow.name)}.json`, full.canvas_data ?? { nodes: [], edges: [] });
  }

  return (
    <div className="page">
      <AppHeader />
      <main className="content">
        {error && <ErrorBanner message={error} onDismiss={() => setError(null)} />}
        {/* the role too: whether to offer creating a chatbot (and which "no chatbot yet" to say) */}
        {chatbots === null || me === undefined ? <p className="muted">{t("common.loading")}</p> : (
          <ChatbotPicker chatbots={chatbots} value={chatbotId} onChange={setChatbotId}
            onCreate={can(me, "chatbots:write") ? createChatbot : undefined} />
        )}
        {chatbotId && (
          <section className="card">
            <div className="card-head">
              <h1>{t("flows.title")}</h1>
              {mayWrite && <div className="row">
                <button type="button" onClick={() => upload.current?.click()}>{t("flows.import")}</button>
                <input ref={upload} type="file" accept="application/json,.json" hidden
                  aria-label={t("flows.import")}
                  onChange={(e) => { const f = e.target.files?.[0]; e.target.value = ""; if (f) importFile(f); }} />
              </div>}
            </div>
            {rejected && (
              <div className="import-problems" role="alert">
                <p>{t("flows.importInvalid", { name: rejected.name, count: rejected.diagnostics.length })}</p>
                <ul>
                  {rejected.diagnostics.map((d, i) => (
                    <li key={i}>{d.node_id && <code>{d.node_id}</code>} {d.message}</li>
                  ))}
                </ul>
                <div className="row">
                  <button type="button" onClick={() => openImported(rejected.name, rejected.canvas).catch(report)}>
                    {t("flows.importAnyway")}</button>
                  <button type="button" onClick={() => setRejected(null)}>{t("common.cancel")}</button>
                </div>
              </div>
            )}
            {mayWrite && <form className="row" onSubmit={createFlow}>
              <label className="field grow">
                <span className="field-label">{t("flows.newFlow")}</span>
                <input value={newFlow} onChange={(e) => setNewFlow(e.target.value)} />
              </label>
              <button type="submit" className="primary align-end">{t("flows.createFlow")}</button>
            </form>}
            {flows === null ? <p className="muted">{t("common.loading")}</p>
              : flows.length === 0 ? <p className="muted">{t("flows.empty")}</p> : (
              <ul className="flow-list">
                {flows.map((flow) => (
                  <FlowRow key={flow.id} flow={flow} onRename={mayWrite ? (name) => rename(flow, name) : undefined}
                    onDelete={can(me, "flows:delete") ? () => remove(flow) : undefined}
                    onExport={() => exportFlow(flow).catch(report)} />
                ))}
              </ul>
            )}
          </section>
        )}
      </main>
    </div>
  );
}
