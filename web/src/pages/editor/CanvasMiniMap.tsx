// The canvas overview: React Flow's <MiniMap pannable zoomable> with its nodes drawn
// as one SVG path. The stock minimap draws one component per node, each subscribed to
// the store: on a 1,000-node canvas every frame of a drag ran a thousand selectors.
// Here the drawing is rebuilt once per change of the nodes, from per-node pieces kept
// while a node is unchanged (React Flow replaces a node's internal object when it moves).
import { Panel, useStore, useStoreApi, type InternalNode, type ReactFlowState, type Rect } from "@xyflow/react";
import { getBoundsOfRects, getInternalNodesBounds, XYMinimap, type XYMinimapInstance } from "@xyflow/system";
import { memo, useEffect, useMemo, useRef } from "react";

const WIDTH = 200;
const HEIGHT = 150;
const OFFSET_SCALE = 5;

const visible = (node: InternalNode) => !node.hidden;

function view(s: ReactFlowState) {
  const [tx, ty, zoom] = s.transform;
  const viewBB = { x: -tx / zoom, y: -ty / zoom, width: s.width / zoom, height: s.height / zoom };
  const hasVisible = [...s.nodeLookup.values()].some(visible);
  return {
    viewBB,
    boundingRect: hasVisible ? getBoundsOfRects(getInternalNodesBounds(s.nodeLookup, { filter: visible }), viewBB) : viewBB,
    panZoom: s.panZoom, translateExtent: s.translateExtent, flowWidth: s.width, flowHeight: s.height,
    label: s.ariaLabelConfig["minimap.ariaLabel"], rfId: s.rfId,
  };
}
type View = ReturnType<typeof view>;
const sameRect = (a: Rect, b: Rect) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
const sameView = (a: View, b: View) => sameRect(a.viewBB, b.viewBB) && sameRect(a.boundingRect, b.boundingRect)
  && a.panZoom === b.panZoom && a.translateExtent === b.translateExtent && a.flowWidth === b.flowWidth
  && a.flowHeight === b.flowHeight && a.label === b.label && a.rfId === b.rfId;

export const CanvasMiniMap = memo(function CanvasMiniMap() {
  const store = useStoreApi();
  const svg = useRef<SVGSVGElement>(null);
  const { boundingRect, viewBB, panZoom, translateExtent, flowWidth, flowHeight, label, rfId } = useStore(view, sameView);
  const viewScale = Math.max(boundingRect.width / WIDTH, boundingRect.height / HEIGHT);
  const offset = OFFSET_SCALE * viewScale;
  const x = boundingRect.x - (viewScale * WIDTH - boundingRect.width) / 2 - offset;
  const y = boundingRect.y - (viewScale * HEIGHT - boundingRect.height) / 2 - offset;
  const width = viewScale * WIDTH + offset * 2;
  const height = viewScale * HEIGHT + offset * 2;
  const viewScaleRef = useRef(viewScale);
  viewScaleRef.current = viewScale;

  const minimap = useRef<XYMinimapInstance | null>(null);
  useEffect(() => {
    if (!svg.current || !panZoom) return;
    minimap.current = XYMinimap({
      domNode: svg.current, panZoom,
      getTransform: () => store.getState().transform, getViewScale: () => viewScaleRef.current,
    });
    return () => minimap.current?.destroy();
  }, [panZoom, store]);
  useEffect(() => {
    minimap.current?.update({ translateExtent, width: flowWidth, height: flowHeight, pannable: true, zoomable: true });
  }, [panZoom, translateExtent, flowWidth, flowHeight]);

  const labelId = `react-flow__minimap-desc-${rfId}`;
  return (
    <Panel position="bottom-right" className="react-flow__minimap" data-testid="rf__minimap">
      <svg ref={svg} width={WIDTH} height={HEIGHT} viewBox={`${x} ${y} ${width} ${height}`}
        className="react-flow__minimap-svg" role="img" aria-labelledby={labelId}>
        {label && <title id={labelId}>{label}</title>}
        <MiniMapNodes />
        <path className="react-flow__minimap-mask" fillRule="evenodd" pointerEvents="none"
          d={`M${x - offset},${y - offset}h${width + offset * 2}v${height + offset * 2}h${-width - offset * 2}z
            M${viewBB.x},${viewBB.y}h${viewBB.width}v${viewBB.height}h${-viewBB.width}z`} />
      </svg>
    </Panel>
  );
});

// One rectangle per node, kept with the node's internal object.
const pieces = new WeakMap<InternalNode, string>();
function piece(node: InternalNode): string {
  let d = pieces.get(node);
  if (d === undefined) {
    const { x, y } = node.internals.positionAbsolute;
    const w = node.measured.width ?? node.width ?? node.initialWidth ?? 0;
    const h = node.measured.height ?? node.height ?? node.initialHeight ?? 0;
    d = `M${x},${y}h${w}v${h}h${-w}z`;
    pieces.set(node, d);
  }
  return d;
}

const MiniMapNodes = memo(function MiniMapNodes() {
  // the user's nodes array changes whenever a node does; nodeLookup holds their internals
  const nodes = useStore((s) => s.nodes);
  const store = useStoreApi();
  const d = useMemo(() => {
    const parts: string[] = [];
    for (const node of store.getState().nodeLookup.values()) if (visible(node)) parts.push(piece(node));
    return parts.join("");
  }, [nodes, store]);
  return <path className="react-flow__minimap-node" d={d} shapeRendering="crispEdges" />;
});
