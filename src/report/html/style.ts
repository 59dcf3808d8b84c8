// The HTML report's stylesheet, inlined into every page (no fonts or images from anywhere).
// Colours: reachable green, truncated orange, faulted red; freed buffers are drawn hollow.
export const PAGE_STYLE = `
:root { --fg: #1d2125; --muted: #5f6b76; --line: #d6dbe0; --bg: #fff; --panel: #f5f7f9;
  --ok: #2e7d32; --warn: #e65100; --bad: #c62828; --ram: #dfe9f3; --hole: #eceff1; --iova: #ede7f6; --accent: #1565c0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 2px 0; }
nav { background: var(--bg); border-bottom: 1px solid var(--line); padding: 6px 24px; z-index: 2; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { padding: 8px 24px 48px; max-width: 1280px; }
section { margin: 24px 0; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0; }
table.buffers, table.runs { font-size: 12.5px; }
td code { word-break: break-all; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; }
.verdict.clean, .ok { color: var(--ok); }
.verdict.bad, .bad { color: var(--bad); }
.warn { color: var(--warn); }
.muted { color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0; color: var(--muted); }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.35); }
.sw-reachable { background: var(--ok); } .sw-truncated { background: var(--warn); } .sw-faulted { background: var(--bad); }
.sw-freed { background: transparent; border: 1.5px dashed var(--fg) !important; }
.sw-ram { background: var(--ram); } .sw-hole { background: var(--hole); } .sw-iova { background: var(--iova); }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--fg); }
svg .axis text { fill: var(--muted); }
svg .ram { fill: var(--ram); } svg .hole { fill: var(--hole); } svg .iova-space { fill: var(--iova); }
svg .bar { fill: #90a4ae; }
svg .buf { stroke: rgba(0,0,0,.45); stroke-width: .5; cursor: pointer; }
svg .buf.reachable { fill: var(--ok); } svg .buf.truncated { fill: var(--warn); } svg .buf.faulted { fill: var(--bad); }
svg .buf.freed { fill-opacity: .28; stroke-dasharray: 2 1.5; stroke: var(--fg); }
svg .buf.selected, tr.selected td { outline: 2px solid var(--accent); }
svg .link, svg .bounce-link, svg .trunc-link, svg .zoom { pointer-events: none; }
svg .link { stroke: #7e57c2; stroke-width: .6; fill: none; opacity: .55; }
svg .bounce-link { stroke: var(--warn); stroke-dasharray: 3 2; stroke-width: .8; fill: none; opacity: .7; }
svg .line4g { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 5 3; }
svg .limit { stroke: var(--warn); stroke-width: 1.2; stroke-dasharray: 2 2; }
svg .trunc-link { stroke: var(--bad); stroke-dasharray: 3 2; stroke-width: .7; fill: none; opacity: .6; }
svg .fault { fill: var(--bad); cursor: pointer; }
svg .zoom { fill: none; stroke: #90a4ae; stroke-width: .6; stroke-dasharray: 2 2; }
svg .series { fill: none; stroke-width: 1.6; }
svg .gridline { stroke: var(--line); stroke-width: .6; }
svg .marker { stroke: var(--bad); stroke-width: 1; }
tr.selected td { background: #e3f2fd; }
.finding { border: 1px solid var(--line); border-left: 4px solid var(--warn); border-radius: 4px; padding: 8px 12px; margin: 10px 0; background: var(--panel); }
.finding.fatal { border-left-color: var(--bad); }
.finding h3 { margin: 0 0 4px; }
.finding .code { color: var(--muted); font-weight: normal; }
pre.source { background: #fff; border: 1px solid var(--line); padding: 6px 0; overflow-x: auto; margin: 6px 0; }
pre.source span { display: block; padding: 0 10px; white-space: pre; }
pre.source span.here { background: #fff3e0; border-left: 3px solid var(--warn); padding-left: 7px; }
ol.stack { margin: 4px 0; padding-left: 22px; }
.cells { display: flex; flex-wrap: wrap; gap: 2px; margin: 8px 0; }
.cell { width: 14px; height: 14px; border: 0; padding: 0; cursor: pointer; border-radius: 2px; }
.cell.handled { background: var(--ok); } .cell.leak { background: var(--warn); } .cell.finding { background: #f9a825; }
.cell.bugcheck { background: var(--bad); } .cell.hang { background: #6a1b9a; }
svg rect.cell { stroke: none; cursor: pointer; } svg rect.cell.handled { fill: var(--ok); } svg rect.cell.leak { fill: var(--warn); }
svg rect.cell.finding { fill: #f9a825; } svg rect.cell.bugcheck { fill: var(--bad); } svg rect.cell.hang { fill: #6a1b9a; }
svg rect.cell.selected { stroke: var(--accent); stroke-width: 2; outline: none; }
.cell.selected { outline: 2px solid var(--accent); outline-offset: 1px; }
button.copy { font-size: 11px; padding: 0 6px; margin-left: 6px; cursor: pointer; }
.detail { border: 1px solid var(--line); background: var(--panel); padding: 8px 12px; border-radius: 4px; min-height: 2.5em; }
#tip { position: fixed; z-index: 10; max-width: 520px; background: #263238; color: #fff; padding: 6px 9px; border-radius: 4px;
  font: 12px/1.4 system-ui, "DejaVu Sans", sans-serif; white-space: pre-wrap; pointer-events: none; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
.matrix td { padding: 6px 14px; }
details > summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
`
