import {
  applyEdgeChanges, applyNodeChanges, Background, Controls, ReactFlow, ReactFlowProvider,
  useReactFlow, type Connection, type DefaultEdgeOptions, type Edge, type EdgeChange, type NodeChange, type ProOptions,
  type Viewport,
} from "@xyflow/react";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { api, ApiError, errorText } from "../../api/client";
import { can, lacks, useMe } from "../../api/me";
import type { Canvas, Diagnostic, Flow } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { downloadJson, slug, takePendingCanvas } from "../../components/files";
import { useI18n } from "../../i18n";
import { Link, useLeaveGuard } from "../../router";
import { NODE_TYPES } from "../../schemas/catalog";
import { handlesOf, NO_TARGET } from "../../schemas/handles";
import { AnalyticsControls, AnalyticsLegend, useAnalytics } from "./AnalyticsBar";
import { AnalyticsContext, analyticsStores } from "./AnalyticsContext";
import type { Period } from "./analyticsModel";
import { CanvasMiniMap } from "./CanvasMiniMap";
import {
  edgeLabel, freshId, LARGE_CANVAS, nodeLabel, toCanvas, toFlow, waysOut, withConnection, type FlowNodeT, type NodeData,
} from "./canvasModel";
import { byNode, DiagnosticsContext, sameDiagnostics } from "./DiagnosticsContext";
import { FlowNode } from "./FlowNode";
import { HandleEdge } from "./HandleEdge";
import { measuredNodes } from "./nodeGeometry";
import { PerNode } from "./perNode";
import { DRAG_MIME, Palette } from "./Palette";
import { ProblemsPanel } from "./ProblemsPanel";
import { PropertiesPanel } from "./PropertiesPanel";
import { RunErrorsPanel } from "./RunErrorsPanel";
import { SidePanel, type SideTab } from "./SidePanel";
import { simulatedAt, SimulationContext } from "./SimulationContext";
import { SimulatorPanel } from "./SimulatorPanel";
import { distinct, useDiagnostics } from "./useDiagnostics";
import { useHistory } from "./useHistory";
import { VersionsPanel } from "./VersionsPanel";

// React Flow's props that are objects, made once: a new one each render would update
// its store, and everything reading it, on every frame of a drag.
const NODE_TYPE_COMPONENTS = Object.fromEntries(NODE_TYPES.map((t) => [t, FlowNode]));
const EDGE_TYPE_COMPONENTS = { handle: HandleEdge };
const DEFAULT_EDGE_OPTIONS: DefaultEdgeOptions = { type: "handle" };
const DEFAULT_VIEWPORT: Viewport = { x: 0, y: 0, zoom: 1 };
const PRO_OPTIONS: ProOptions = { hideAttribution: true };
const DELETE_KEYS = ["Delete", "Backspace"];
const MULTI_SELECTION_KEYS = ["Control", "Meta", "Shift"];
type Snapshot = { nodes: FlowNodeT[]; edges: Edge[] };
// a node's size before it is drawn and measured (about a message node's), for placing one
const NEW_NODE_SIZE = { width: 200, height: 100 };
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
  // a role that reads flows but may not change them (agent, viewer): the canvas can be explored and
  // simulated, but there is no Save, Publish or rollback to try (the API would refuse them: 403).
  // Until /auth/me answers neither Save / Publish nor the "View only" note shows, and Ctrl+S waits.
  const me = useMe();
  const mayWrite = can(me, "flows:write");
  const readOnly = lacks(me, "flows:write");
  const mayWriteRef = useRef(mayWrite);
  mayWriteRef.current = mayWrite;
  const flowApi = useReactFlow<FlowNodeT, Edge>();
  const [flow, setFlow] = useState<Flow | null>(null);
  const [nodes, setNodes] = useState<FlowNodeT[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [dirty, setDirty] = useState(false);
  const [status, setStatus] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const { record, undo, redo, canUndo, canRedo } = useHistory<Snapshot>();
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
      // a big canvas opens on its first nodes (only what is on screen is drawn), a small one fits;
      // React Flow does it as it takes the nodes, before drawing them (no second layout)
      const first = loaded.nodes.length > LARGE_CANVAS ? loaded.nodes.slice(0, 12).map((n) => ({ id: n.id })) : undefined;
      if (loaded.nodes.length) flowApi.fitView({ padding: 0.2, maxZoom: 1, nodes: first });
    }).catch((err) => setLoadError(errorText(err)));
    return () => { stale = true; };
  }, [flowId, flowApi]);

  // --- edits, each one undoable -------------------------------------------------
  const commit = useCallback((next: Partial<Snapshot>) => {
    record(state.current);
    if (next.nodes) setNodes(next.nodes);
    if (next.edges) setEdges(next.edges);
    setDirty(true);
  }, [record]);

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
        nodes: measuredNodes(changes, applyNodeChanges(changes, state.current.nodes)),
        edges: state.current.edges.filter((e) => !removed.has(e.source) && !removed.has(e.target)),
      });
      return;
    }
    if (changes.some((c) => c.type === "position" && c.dragging === false)) setDirty(true);
    setNodes((ns) => measuredNodes(changes, applyNodeChanges(changes, ns)));
  }, [commit]);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    if (changes.some((c) => c.type === "remove")) commit({ edges: applyEdgeChanges(changes, state.current.edges) });
    else setEdges((es) => applyEdgeChanges(changes, es));
  }, [commit]);

  // One edge per way out: a new edge from the same handle replaces the old one (a drag, or a choice
  // in the selected node's "Ways out").
  const connectWay = useCallback((source: string, handle: string, target: string | null) => {
    commit({ edges: withConnection(state.current.edges, source, handle, target) });
  }, [commit]);
  const onConnect = useCallback((connection: Connection) => {
    connectWay(connection.source, edgeLabel(connection.sourceHandle), connection.target);
  }, [connectWay]);

  const addNode = useCallback((type: string, position: { x: number; y: number }) => {
    const id = freshId(type, new Set(state.current.nodes.map((n) => n.id)));
    const node: FlowNodeT = { id, type, position, data: {}, selected: true };
    commit({ nodes: [...state.current.nodes.map((n) => ({ ...n, selected: false })), node] });
  }, [commit]);

  // a node added from the palette without a drag: at the centre of the visible canvas, moved down
  // while it would cover another node (so repeated adds do not hide each other)
  const canvasBox = useRef<HTMLDivElement>(null);
  const addAtCentre = useCallback((type: string) => {
    const box = canvasBox.current?.getBoundingClientRect();
    if (!box) return;
    const at = flowApi.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 });
    const [width, height] = [NEW_NODE_SIZE.width, NEW_NODE_SIZE.height];
    const covers = (n: FlowNodeT) => {
      const w = n.measured?.width ?? width, h = n.measured?.height ?? height;
      return at.x < n.position.x + w && n.position.x < at.x + width && at.y < n.position.y + h && n.position.y < at.y + height;
    };
    for (let n = state.current.nodes.find(covers); n; n = state.current.nodes.find(covers)) {
      at.y = n.position.y + (n.measured?.height ?? height) + 24;
    }
    addNode(type, at);
    // moved down past the visible canvas's lower part (the minimap and the zoom controls sit there):
    // the view follows it, so the new node and its handles can be seen and reached
    const low = flowApi.screenToFlowPosition({ x: box.left, y: box.bottom - 170 });
    if (at.y + height > low.y) flowApi.setCenter(at.x + width / 2, at.y + height / 2, { zoom: flowApi.getZoom() });
  }, [addNode, flowApi]);

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
  const lintCanvas = useLintCanvas(flow ? nodes : null, edges);
  const { diagnostics, setDiagnostics, checking } = useDiagnostics(flowId, lintCanvas);
  // indexed by node once; each node on the canvas reads its own entry
  const diagnosticsByNode = useMemo(() => new PerNode<Diagnostic[]>(), []);
  useLayoutEffect(() => diagnosticsByNode.set(byNode(diagnostics), sameDiagnostics), [diagnostics, diagnosticsByNode]);
  const simulation = useMemo(() => new PerNode<true>(), []);
  useLayoutEffect(() => simulation.set(simulatedAt(viewing ? null : simNode)), [simulation, viewing, simNode]);
  // the analytics overlay (off by default): of the version viewed, else the live one
  const analytics = useMemo(analyticsStores, []);
  const [analyticsOn, setAnalyticsOn] = useState(false);
  const [period, setPeriod] = useState<Period>("7d");
  const analyticsVersion = viewing?.version ?? null;
  const { report, error: analyticsError } = useAnalytics(
    { flowId, stores: analytics, version: analyticsVersion, edges: viewing ? viewing.edges : edges }, analyticsOn, period);
  const toggleAnalytics = useCallback(() => setAnalyticsOn((on) => !on), []);

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
      const message = errorText(err);
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
      if (mod && key === "s") { e.preventDefault(); if (mayWriteRef.current) save(); return; }
      if (isTyping(e.target) || viewingRef.current) return;
      if (mod && key === "z" && !e.shiftKey) { e.preventDefault(); restore(undo(state.current)); }
      else if (mod && (key === "y" || (key === "z" && e.shiftKey))) { e.preventDefault(); restore(redo(state.current)); }
      else if (mod && key === "c") copy();
      else if (mod && key === "v") { e.preventDefault(); paste(); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [save, restore, undo, redo, copy, paste]);

  useLeaveGuard(dirty && !readOnly ? t("editor.leaveUnsaved") : null);
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => { if (dirty && !readOnly) e.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty, readOnly]);

  const viewingRef = useRef(viewing);
  viewingRef.current = viewing;
  const viewVersion = useCallback((version: number | null, canvas: Canvas | null) => {
    if (version === null || !canvas) { setViewing(null); return; }
    setViewing({ version, ...toFlow(canvas) });
    setTimeout(() => flowApi.fitView({ padding: 0.2, maxZoom: 1 }), 50);
  }, [flowApi]);
  const currentCanvas = useCallback(() => toCanvas(state.current.nodes, state.current.edges), []);
  const onNodeDragStart = useCallback(() => record(state.current), [record]);
  const pickProblem = useCallback((d: Diagnostic) => focusNode(d.node_id), [focusNode]);
  const deleteNode = useCallback((id: string) => deleteNodes(new Set([id])), [deleteNodes]);

  const selected = nodes.filter((n) => n.selected);
  const picked = !viewing && selected.length === 1 ? selected[0] : null;
  // the nodes an edge may enter, by id and label: kept while only positions change (a drag), so the
  // properties form is not drawn again on every frame
  const targetsKey = nodes.filter((n) => !NO_TARGET.has(n.type ?? "")).map((n) => `${n.id}\u0000${nodeLabel(n.id, n.data)}`).join("\u0001");
  const targets = useMemo(() => (targetsKey ? targetsKey.split("\u0001") : []).map((entry) => {
    const [id, label] = entry.split("\u0000");
    return { id, label };
  }), [targetsKey]);
  const ways = useMemo(() => (picked ? waysOut(edges, picked.id, handlesOf(picked.type ?? "", picked.data)) : []),
    [edges, picked?.id, picked?.type, picked?.data]);  // eslint-disable-line react-hooks/exhaustive-deps
  const errors = diagnostics.filter((d) => d.severity === "error").length;

  if (loadError) return <div className="page"><AppHeader /><p role="alert" className="error banner">{loadError}</p></div>;

  return (
    <div className="page editor-page">
      <AppHeader>
        <nav className="breadcrumb">
          <Link to="/app/flows">{t("editor.back")}</Link> <span className="muted">/</span> <strong title={flow?.name}>{flow?.name ?? "…"}</strong>
        </nav>
      </AppHeader>
      <div className="toolbar" role="toolbar">
        <button type="button" onClick={() => restore(undo(state.current))} disabled={!canUndo || !!viewing}>{t("editor.undo")}</button>
        <button type="button" onClick={() => restore(redo(state.current))} disabled={!canRedo || !!viewing}>{t("editor.redo")}</button>
        <button type="button" onClick={() => flowApi.fitView({ padding: 0.2, maxZoom: 1.5, duration: 300 })}>{t("editor.fit")}</button>
        <button type="button" onClick={() => downloadJson(`${slug(flow?.name ?? "flow")}.json`,
          toCanvas(nodes, edges, flowApi.getViewport()))}>{t("flows.export")}</button>
        <AnalyticsControls on={analyticsOn} onToggle={toggleAnalytics} period={period} onPeriod={setPeriod}
          version={analyticsVersion} report={report} error={analyticsError} />
        {/* in view only Ctrl+S saves nothing; the rest still works on the canvas being explored */}
        <span className="muted small shortcuts">{t(mayWrite ? "editor.shortcuts" : "editor.shortcutsReadOnly")}</span>
        <span className="grow" />
        {dirty && !readOnly && <span className="muted small">{t("editor.unsaved")}</span>}
        {status && <span role="status" className={`small status ${status.kind}`}>{status.text}</span>}
        <span className={`small pill ${errors ? "error" : "ok"}`}>{t("editor.errors", { count: errors })}</span>
        {readOnly && <span className="small pill" role="note" title={t("editor.readOnlyHint")}>{t("editor.readOnly")}</span>}
        {mayWrite && <>
          <button type="button" onClick={save}>{t("common.save")}</button>
          <button type="button" className="primary" onClick={publish} title={t("editor.publishHint")}>{t("editor.publish")}</button>
        </>}
      </div>
      <div className="editor-body">
        {/* nothing added before the flow is loaded (its canvas would replace the node) nor to an old version */}
        <Palette onAdd={flow && !viewing ? addAtCentre : undefined} />
        <div className="canvas-column">
          {viewing && (
            <div className="viewing-banner" role="status" aria-label={t("versions.viewingTitle")}>
              <span className="grow">{t("versions.viewing", { version: viewing.version })}</span>
              <button type="button" onClick={() => setViewing(null)}>{t("versions.backToDraft")}</button>
            </div>
          )}
          <div className="canvas" ref={canvasBox} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={flow && !viewing ? onDrop : undefined}>
            {report && <AnalyticsLegend report={report} />}
            <DiagnosticsContext.Provider value={diagnosticsByNode}>
              <SimulationContext.Provider value={simulation}>
              <AnalyticsContext.Provider value={analytics}>
              <ReactFlow<FlowNodeT, Edge>
                nodes={viewing ? viewing.nodes : nodes} edges={viewing ? viewing.edges : edges} nodeTypes={NODE_TYPE_COMPONENTS} edgeTypes={EDGE_TYPE_COMPONENTS}
                onNodesChange={viewing ? undefined : onNodesChange} onEdgesChange={viewing ? undefined : onEdgesChange}
                onConnect={viewing ? undefined : onConnect}
                nodesDraggable={!viewing} nodesConnectable={!viewing} elementsSelectable={!viewing}
                onNodeDragStart={onNodeDragStart}
                deleteKeyCode={DELETE_KEYS} multiSelectionKeyCode={MULTI_SELECTION_KEYS}
                onlyRenderVisibleElements={(viewing ? viewing.nodes : nodes).length > LARGE_CANVAS}
                defaultEdgeOptions={DEFAULT_EDGE_OPTIONS} defaultViewport={DEFAULT_VIEWPORT} minZoom={0.1}
                proOptions={PRO_OPTIONS}>
                <Background gap={16} />
                <CanvasMiniMap />
                <Controls />
              </ReactFlow>
              </AnalyticsContext.Provider>
              </SimulationContext.Provider>
            </DiagnosticsContext.Provider>
          </div>
          <ProblemsPanel diagnostics={diagnostics} checking={checking} onPick={pickProblem} />
        </div>
        {/* the simulator runs the flow's api_call and ai_prompt for real: the API keeps it to flows:write */}
        <SidePanel tab={tab} onTab={setTab} without={mayWrite ? [] : ["simulator"]}>
          {tab === "properties" && (
            <PropertiesPanel nodeId={picked?.id ?? null} nodeType={picked?.type ?? ""} data={picked?.data ?? null}
              diagnostics={diagnostics} ways={ways} targets={targets}
              onChange={updateData} onConnect={connectWay} onDelete={deleteNode} />
          )}
          {/* it starts the flow as it mounts: not before the flow's canvas is there (an empty one would run) */}
          {tab === "simulator" && mayWrite && (flow
            ? <SimulatorPanel flowId={flowId} canvas={currentCanvas} onCurrentNode={setSimNode} />
            : <p className="muted">{t("common.loading")}</p>)}
          {tab === "versions" && (
            <VersionsPanel flowId={flowId} refreshKey={savedCount} viewing={viewing?.version ?? null} onView={viewVersion}
              readOnly={!mayWrite}
              onPublished={(version) => setStatus({ kind: "ok", text: t("editor.published", { version }) })} />
          )}
          {tab === "errors" && <RunErrorsPanel flowId={flowId} onPick={focusNode} />}
        </SidePanel>
      </div>
    </div>
  );
}

/** The canvas the compiler checks: its nodes' ids, types and data, and its wiring. Moving
 *  or selecting keeps the same one (no new check); compared by reference, not serialized,
 *  so that a frame of a drag does not walk the whole canvas's data. */
function useLintCanvas(nodes: FlowNodeT[] | null, edges: Edge[]): Canvas | null {
  const last = useRef<{ nodes: FlowNodeT[]; edges: Edge[]; canvas: Canvas } | null>(null);
  if (!nodes) return null;
  const prev = last.current;
  if (prev && sameNodes(prev.nodes, nodes) && sameWiring(prev.edges, edges)) {
    prev.nodes = nodes;
    prev.edges = edges;
    return prev.canvas;
  }
  const canvas = toCanvas(nodes, edges);
  last.current = { nodes, edges, canvas };
  return canvas;
}

function sameNodes(a: FlowNodeT[], b: FlowNodeT[]): boolean {
  return a === b || (a.length === b.length && a.every((n, i) => n.id === b[i].id && n.type === b[i].type && n.data === b[i].data));
}

function sameWiring(a: Edge[], b: Edge[]): boolean {
  return a === b || (a.length === b.length
    && a.every((e, i) => e.source === b[i].source && e.target === b[i].target && (e.sourceHandle ?? null) === (b[i].sourceHandle ?? null)));
}
