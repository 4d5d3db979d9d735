import {
  addEdge, applyEdgeChanges, applyNodeChanges, Background, Controls, MiniMap, ReactFlow, ReactFlowProvider,
  useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { api, ApiError } from "../../api/client";
import type { Canvas, Diagnostic, Flow } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { downloadJson, slug, takePendingCanvas } from "../../components/files";
import { useI18n } from "../../i18n";
import { Link } from "../../router";
import { NODE_TYPES } from "../../schemas/catalog";
import { edgeLabel, freshId, toCanvas, toFlow, type FlowNodeT, type NodeData } from "./canvasModel";
import { byNode, DiagnosticsContext } from "./DiagnosticsContext";
import { FlowNode } from "./FlowNode";
import { DRAG_MIME, Palette } from "./Palette";
import { ProblemsPanel } from "./ProblemsPanel";
import { PropertiesPanel } from "./PropertiesPanel";
import { RunErrorsPanel } from "./RunErrorsPanel";
import { SidePanel, type SideTab } from "./SidePanel";
import { SimulationContext } from "./SimulationContext";
import { SimulatorPanel } from "./SimulatorPanel";
import { distinct, useDiagnostics } from "./useDiagnostics";
import { useHistory } from "./useHistory";
import { VersionsPanel } from "./VersionsPanel";

const NODE_TYPE_COMPONENTS = Object.fromEntries(NODE_TYPES.map((t) => [t, FlowNode]));
type Snapshot = { nodes: FlowNodeT[]; edges: Edge[] };
/** From this many nodes on, the canvas draws only the nodes and edges on screen. */
const LARGE_CANVAS = 200;
let clipboard: Snapshot | null = null; // copy/paste between flows of this tab

export function EditorPage({ flowId }: { flowId: string }) {
  return (
    <ReactFlowProvider>
      <Editor flowId={flowId} />
    </ReactFlowProvider>
  );
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

function Editor({ flowId }: { flowId: string }) {
  const { t } = useI18n();
  const flowApi = useReactFlow<FlowNodeT, Edge>();
  const [flow, setFlow] = useState<Flow | null>(null);
  const [nodes, setNodes] = useState<FlowNodeT[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [dirty, setDirty] = useState(false);
  const [status, setStatus] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const history = useHistory<Snapshot>();
  const [tab, setTab] = useState<SideTab>("properties");
  const [simNode, setSimNode] = useState<string | null>(null);
  const [viewing, setViewing] = useState<{ version: number; nodes: FlowNodeT[]; edges: Edge[] } | null>(null);
  const [savedCount, setSavedCount] = useState(0);
  const state = useRef<Snapshot>({ nodes, edges });
  state.current = { nodes, edges };

  // --- loading -----------------------------------------------------------------
  // An imported canvas waits in sessionStorage: taken once per flow, so a re-run of the
  // effect (its dependencies settling) does not load the saved, empty canvas over it.
  const pendingRef = useRef<{ flowId: string; canvas: Canvas | null } | null>(null);
  useEffect(() => {
    if (pendingRef.current?.flowId !== flowId) pendingRef.current = { flowId, canvas: takePendingCanvas(flowId) };
    const pending = pendingRef.current.canvas;
    let stale = false;
    api<Flow>("GET", `/flows/${flowId}`).then((f) => {
      if (stale) return;
      setFlow(f);
      const loaded = toFlow(pending ?? f.canvas_data);
      setNodes(loaded.nodes);
      setEdges(loaded.edges);
      setDirty(pending !== null);
      // a big canvas opens on its first nodes (only what is on screen is drawn), a small one fits
      const first = loaded.nodes.length > LARGE_CANVAS ? loaded.nodes.slice(0, 12).map((n) => ({ id: n.id })) : undefined;
      if (loaded.nodes.length) setTimeout(() => flowApi.fitView({ padding: 0.2, maxZoom: 1, nodes: first }), 50);
    }).catch((err) => setLoadError(err instanceof ApiError ? err.message : String(err)));
    return () => { stale = true; };
  }, [flowId, flowApi]);

  // --- edits, each one undoable -------------------------------------------------
  const commit = useCallback((next: Partial<Snapshot>) => {
    history.record(state.current);
    if (next.nodes) setNodes(next.nodes);
    if (next.edges) setEdges(next.edges);
    setDirty(true);
  }, [history]);

  const restore = useCallback((snapshot: Snapshot | null) => {
    if (!snapshot) return;
    setNodes(snapshot.nodes);
    setEdges(snapshot.edges);
    setDirty(true);
  }, []);

  const onNodesChange = useCallback((changes: NodeChange<FlowNodeT>[]) => {
    if (changes.some((c) => c.type === "remove")) {
      const removed = new Set(changes.filter((c) => c.type === "remove").map((c) => (c as { id: string }).id));
      commit({
        nodes: applyNodeChanges(changes, state.current.nodes),
        edges: state.current.edges.filter((e) => !removed.has(e.source) && !removed.has(e.target)),
      });
      return;
    }
    if (changes.some((c) => c.type === "position" && c.dragging === false)) setDirty(true);
    setNodes((ns) => applyNodeChanges(changes, ns));
  }, [commit]);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    if (changes.some((c) => c.type === "remove")) commit({ edges: applyEdgeChanges(changes, state.current.edges) });
    else setEdges((es) => applyEdgeChanges(changes, es));
  }, [commit]);

  const onConnect = useCallback((connection: Connection) => {
    const handle = connection.sourceHandle ?? null;
    // One edge per way out: a new edge from the same handle replaces the old one.
    const others = state.current.edges.filter((e) => !(e.source === connection.source && (e.sourceHandle ?? null) === handle));
    const id = `e_${connection.source}_${handle ?? "next"}_${connection.target}`;
    commit({ edges: addEdge({ ...connection, id, label: edgeLabel(handle) }, others) });
  }, [commit]);

  const addNode = useCallback((type: string, position: { x: number; y: number }) => {
    const id = freshId(type, new Set(state.current.nodes.map((n) => n.id)));
    const node: FlowNodeT = { id, type, position, data: {}, selected: true };
    commit({ nodes: [...state.current.nodes.map((n) => ({ ...n, selected: false })), node] });
  }, [commit]);

  const onDrop = useCallback((event: DragEvent) => {
    event.preventDefault();
    const type = event.dataTransfer.getData(DRAG_MIME);
    if (!type) return;
    addNode(type, flowApi.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  }, [addNode, flowApi]);

  const updateData = useCallback((id: string, data: NodeData) => {
    commit({ nodes: state.current.nodes.map((n) => (n.id === id ? { ...n, data } : n)) });
  }, [commit]);

  const deleteNodes = useCallback((ids: Set<string>) => {
    if (!ids.size) return;
    commit({
      nodes: state.current.nodes.filter((n) => !ids.has(n.id)),
      edges: state.current.edges.filter((e) => !ids.has(e.source) && !ids.has(e.target) && !e.selected),
    });
  }, [commit]);

  const copy = useCallback(() => {
    const picked = state.current.nodes.filter((n) => n.selected);
    const ids = new Set(picked.map((n) => n.id));
    clipboard = { nodes: picked, edges: state.current.edges.filter((e) => ids.has(e.source) && ids.has(e.target)) };
  }, []);

  const paste = useCallback(() => {
    if (!clipboard?.nodes.length) return;
    const taken = new Set(state.current.nodes.map((n) => n.id));
    const renamed = new Map<string, string>();
    const pasted = clipboard.nodes.map((n) => {
      const id = freshId(n.type ?? "node", taken);
      taken.add(id);
      renamed.set(n.id, id);
      return { ...n, id, selected: true, position: { x: n.position.x + 40, y: n.position.y + 40 }, data: structuredClone(n.data) };
    });
    const pastedEdges = clipboard.edges.map((e) => {
      const source = renamed.get(e.source)!;
      const target = renamed.get(e.target)!;
      return { ...e, id: `e_${source}_${e.sourceHandle ?? "next"}_${target}`, source, target, selected: false };
    });
    commit({
      nodes: [...state.current.nodes.map((n) => ({ ...n, selected: false })), ...pasted],
      edges: [...state.current.edges, ...pastedEdges],
    });
  }, [commit]);

  // --- the canvas as saved, diagnostics ----------------------------------------
  // Positions and data only: selecting a node does not re-check the canvas.
  const canvasKey = JSON.stringify([nodes.map((n) => [n.id, n.type, n.data]), edges.map((e) => [e.source, e.sourceHandle, e.target])]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const lintCanvas = useMemo(() => (flow ? toCanvas(nodes, edges) : null), [canvasKey, flow]);
  const { diagnostics, setDiagnostics, checking } = useDiagnostics(flowId, lintCanvas);
  const diagnosticsByNode = useMemo(() => byNode(diagnostics), [diagnostics]);

  // A save stores a draft version (customers keep the published one); Publish saves
  // and makes that version live for new conversations.
  const store = useCallback(async (publish: boolean): Promise<boolean> => {
    if (!flow) return false;
    const canvas = toCanvas(state.current.nodes, state.current.edges, flowApi.getViewport());
    try {
      const saved = await api<{ version: number; created: boolean; published: boolean; diagnostics: Diagnostic[] }>(
        "PUT", `/flows/${flow.id}/canvas`, { canvas, publish });
      setDiagnostics(distinct(saved.diagnostics));
      setDirty(false);
      const text = publish ? t("editor.published", { version: saved.version })
        : saved.created ? t("editor.saved", { version: saved.version }) : t("editor.unchanged");
      setStatus({ kind: "ok", text });
      setSavedCount((n) => n + 1);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_canvas") {
        const details = (err.body as { error?: { details?: Diagnostic[] } })?.error?.details;
        if (details) setDiagnostics(distinct(details));
      }
      const message = err instanceof Error ? err.message : String(err);
      setStatus({ kind: "error", text: t(publish ? "editor.publishFailed" : "editor.saveFailed", { message }) });
      return false;
    }
  }, [flow, flowApi, setDiagnostics, t]);
  const save = useCallback(() => store(false), [store]);
  const publish = useCallback(() => store(true), [store]);

  const focusNode = useCallback((nodeId: string | null | undefined) => {
    const node = state.current.nodes.find((n) => n.id === nodeId);
    if (!node) return;
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === node.id })));
    const w = node.measured?.width ?? 200;
    const h = node.measured?.height ?? 100;
    flowApi.setCenter(node.position.x + w / 2, node.position.y + h / 2, { zoom: Math.max(flowApi.getZoom(), 1), duration: 300 });
  }, [flowApi]);

  // --- keyboard ------------------------------------------------------------------
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") { e.preventDefault(); save(); return; }
      if (isTyping(e.target) || viewingRef.current) return;
      if (mod && key === "z" && !e.shiftKey) { e.preventDefault(); restore(history.undo(state.current)); }
      else if (mod && (key === "y" || (key === "z" && e.shiftKey))) { e.preventDefault(); restore(history.redo(state.current)); }
      else if (mod && key === "c") copy();
      else if (mod && key === "v") { e.preventDefault(); paste(); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [save, restore, history, copy, paste]);

  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => { if (dirty) e.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const viewingRef = useRef(viewing);
  viewingRef.current = viewing;
  const viewVersion = useCallback((version: number | null, canvas: Canvas | null) => {
    if (version === null || !canvas) { setViewing(null); return; }
    setViewing({ version, ...toFlow(canvas) });
    setTimeout(() => flowApi.fitView({ padding: 0.2, maxZoom: 1 }), 50);
  }, [flowApi]);
  const currentCanvas = useCallback(() => toCanvas(state.current.nodes, state.current.edges), []);

  const selected = nodes.filter((n) => n.selected);
  const errors = diagnostics.filter((d) => d.severity === "error").length;

  if (loadError) return <div className="page"><AppHeader /><p role="alert" className="error banner">{loadError}</p></div>;

  return (
    <div className="page editor-page">
      <AppHeader>
        <nav className="breadcrumb">
          <Link to="/app/flows">{t("editor.back")}</Link> <span className="muted">/</span> <strong>{flow?.name ?? "…"}</strong>
        </nav>
      </AppHeader>
      <div className="toolbar" role="toolbar">
        <button type="button" onClick={() => restore(history.undo(state.current))} disabled={!history.canUndo || !!viewing}>{t("editor.undo")}</button>
        <button type="button" onClick={() => restore(history.redo(state.current))} disabled={!history.canRedo || !!viewing}>{t("editor.redo")}</button>
        <button type="button" onClick={() => flowApi.fitView({ padding: 0.2, maxZoom: 1.5, duration: 300 })}>{t("editor.fit")}</button>
        <button type="button" onClick={() => downloadJson(`${slug(flow?.name ?? "flow")}.json`,
          toCanvas(nodes, edges, flowApi.getViewport()))}>{t("flows.export")}</button>
        <span className="muted small shortcuts">{t("editor.shortcuts")}</span>
        <span className="grow" />
        {dirty && <span className="muted small">{t("editor.unsaved")}</span>}
        {status && <span role="status" className={`small status ${status.kind}`}>{status.text}</span>}
        <span className={`small pill ${errors ? "error" : "ok"}`}>{t("editor.errors", { count: errors })}</span>
        <button type="button" onClick={save}>{t("common.save")}</button>
        <button type="button" className="primary" onClick={publish} title={t("editor.publishHint")}>{t("editor.publish")}</button>
      </div>
      <div className="editor-body">
        <Palette />
        <div className="canvas-column">
          {viewing && (
            <div className="viewing-banner" role="status" aria-label={t("versions.viewingTitle")}>
              <span className="grow">{t("versions.viewing", { version: viewing.version })}</span>
              <button type="button" onClick={() => setViewing(null)}>{t("versions.backToDraft")}</button>
            </div>
          )}
          <div className="canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={viewing ? undefined : onDrop}>
            <DiagnosticsContext.Provider value={diagnosticsByNode}>
              <SimulationContext.Provider value={viewing ? null : simNode}>
              <ReactFlow<FlowNodeT, Edge>
                nodes={viewing ? viewing.nodes : nodes} edges={viewing ? viewing.edges : edges} nodeTypes={NODE_TYPE_COMPONENTS}
                onNodesChange={viewing ? undefined : onNodesChange} onEdgesChange={viewing ? undefined : onEdgesChange}
                onConnect={viewing ? undefined : onConnect}
                nodesDraggable={!viewing} nodesConnectable={!viewing} elementsSelectable={!viewing}
                onNodeDragStart={() => history.record(state.current)}
                deleteKeyCode={["Delete", "Backspace"]} multiSelectionKeyCode={["Control", "Meta", "Shift"]}
                onlyRenderVisibleElements={(viewing ? viewing.nodes : nodes).length > LARGE_CANVAS}
                defaultEdgeOptions={{ type: "smoothstep" }} defaultViewport={{ x: 0, y: 0, zoom: 1 }} minZoom={0.1}
                proOptions={{ hideAttribution: true }}>
                <Background gap={16} />
                <MiniMap pannable zoomable />
                <Controls />
              </ReactFlow>
              </SimulationContext.Provider>
            </DiagnosticsContext.Provider>
          </div>
          <ProblemsPanel diagnostics={diagnostics} checking={checking} onPick={(d) => focusNode(d.node_id)} />
        </div>
        <SidePanel tab={tab} onTab={setTab}>
          {tab === "properties" && (
            <PropertiesPanel node={!viewing && selected.length === 1 ? selected[0] : null} diagnostics={diagnostics}
              onChange={updateData} onDelete={(id) => deleteNodes(new Set([id]))} />
          )}
          {tab === "simulator" && <SimulatorPanel flowId={flowId} canvas={currentCanvas} onCurrentNode={setSimNode} />}
          {tab === "versions" && (
            <VersionsPanel flowId={flowId} refreshKey={savedCount} viewing={viewing?.version ?? null} onView={viewVersion}
              onPublished={(version) => setStatus({ kind: "ok", text: t("editor.published", { version }) })} />
          )}
          {tab === "errors" && <RunErrorsPanel flowId={flowId} onPick={focusNode} />}
        </SidePanel>
      </div>
    </div>
  );
}
