// index.html of an export: a static skeleton and its styles. The bundle next
// to it (push-ens-page.js) loads posterior.json and weights.bin and draws the
// demo; if the bundle itself cannot load, the script tag's onerror says so.
import type { BrowserManifest } from '../../browser/format';

export const PAGE_BUNDLE = 'push-ens-page.js';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const EXPLAIN: Record<BrowserManifest['demo']['kind'], string> = {
  'regression-1d':
    'The dark line is the Bayesian model average (BMA) of the particles, the shaded band its mean ± 2 standard deviations, and the thin lines the members (particles, or their samples). The band widens where the members disagree: away from the data.',
  'classification-2d':
    'The map shows, over the inputs, the BMA probability of a class, or the mutual information between the label and the particles: high where the members disagree (epistemic uncertainty), typically away from the data.',
  image:
    'Draw a digit. The bars are the BMA probabilities of each class; the predictive entropy is the total uncertainty, the mutual information its epistemic part (how much the members disagree). Scribbles that are not digits should raise both.',
  generic: 'This model has no picture: pass inputs as ?x=[[...]] in the address, or call window.pushEns.predict(x, { modes }).',
};

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
main { max-width: 980px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
#status { color: #566; margin: 0 0 14px; min-height: 1.4em; }
#error { background: #fff0f0; border: 1px solid #e0a0a0; color: #8a1010; padding: 12px 14px; border-radius: 6px; font-weight: 600; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 14px; }
.explain { color: #445; max-width: 760px; }
.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
.chart .grid { stroke: #e6e8ec; }
.chart .tick { stroke: #555; }
.chart .frame { fill: none; stroke: #444; }
.chart .tick-label { fill: #333; font-size: 12px; }
.chart .axis-label { fill: #111; font-size: 14px; font-weight: 600; }
.chart .band { fill: rgba(49, 130, 189, 0.28); stroke: none; }
.chart .member { fill: none; stroke-width: 1; }
.chart .mean { fill: none; stroke: #08306b; stroke-width: 2.6; }
.chart .point { fill: #222; stroke: #fff; stroke-width: 0.8; }
.chart .point.test { fill: #e6550d; }
.chart .point.class-0 { fill: #1f4e99; stroke: #fff; }
.chart .point.class-1 { fill: #b2182b; stroke: #fff; }
.chart .point.class-2 { fill: #2ca02c; stroke: #fff; }
.chart .point.class-3 { fill: #9467bd; stroke: #fff; }
.chart .point.class-4 { fill: #ff7f0e; stroke: #fff; }
.chart .point.class-5 { fill: #17becf; stroke: #fff; }
.chart .legend-label { fill: #222; font-size: 12.5px; }
.chart .legend-note { fill: #667; font-size: 11.5px; font-style: italic; }
.chart .cursor-line { stroke: #333; stroke-dasharray: 3 3; }
.chart .cursor-dot { fill: #fff; stroke: #08306b; stroke-width: 2; }
.readout { font-variant-numeric: tabular-nums; color: #223; margin-top: 6px; min-height: 1.4em; white-space: pre-wrap; }
.controls { margin-bottom: 8px; }
select, button { font: inherit; padding: 3px 8px; }
.digits { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
#pad { width: 280px; height: 280px; background: #000; border-radius: 6px; touch-action: none; cursor: crosshair; display: block; }
.tools { display: flex; gap: 10px; align-items: center; margin-top: 8px; color: #556; }
#model-input { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #ccd; }
.bars { min-width: 340px; }
.bar-row { display: grid; grid-template-columns: 2.2em 240px 3.5em; align-items: center; gap: 8px; margin: 3px 0; font-variant-numeric: tabular-nums; }
.bar-name { text-align: right; font-weight: 600; }
.bar-track { background: #eceff3; height: 16px; border-radius: 3px; overflow: hidden; }
.bar-fill { display: block; height: 100%; width: 0; background: #6b8fc7; }
.bar-row.top .bar-fill { background: #1f4e99; }
.stats { margin-top: 12px; color: #223; }
.verdict { margin-top: 8px; font-weight: 600; }
#predictions { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 8px; white-space: pre-wrap; word-break: break-all; max-height: 12em; overflow: auto; }
#predictions:empty { display: none; }
footer { color: #778; font-size: 12.5px; margin-top: 18px; }
`;

export function indexHtml(m: BrowserManifest): string {
  const title = `push-ens · ${m.demo.title}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body data-state="loading" data-demo="${m.demo.kind}">
<main>
<h1>${escapeHtml(m.demo.title)}</h1>
<p id="status">Loading the posterior…</p>
<div id="error" role="alert" hidden></div>
<noscript><div id="error-noscript">This page needs JavaScript: it computes the posterior predictive in your browser.</div></noscript>
<div id="demo" class="card"></div>
<p class="explain">${escapeHtml(EXPLAIN[m.demo.kind])}</p>
<pre id="predictions"></pre>
<footer>Exported by push-ens ${escapeHtml(m.pushEnsVersion)} from checkpoint ${escapeHtml(m.source.checkpoint)} (epoch ${m.source.epoch}); weights ${m.weights.storage}. Everything is computed in this page: no server, no Python.</footer>
</main>
<script type="module" src="./${PAGE_BUNDLE}" onerror="var e=document.getElementById('error');e.textContent='This posterior could not be shown: ${PAGE_BUNDLE} could not be loaded (is the export folder complete, and served over http?)';e.hidden=false;document.body.dataset.state='error';"></script>
</body>
</html>
`;
}
