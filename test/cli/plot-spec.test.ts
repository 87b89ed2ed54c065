// The charts `push-ens plot` draws, from their specs to SVG (real vega, no training):
// a reliability diagram over the confidences the classes allow with the examples per
// bin, and a regression plot with train and test apart and one curve per particle.
import { reliabilityBins } from '../../src/bayes/metrics';
import { confidenceDomain, regressionSpec, reliabilitySpec, renderSvg } from '../../src/cli/plot';
import { parseXmlRoot, pathsOfGroup } from './helpers';

type Json = Record<string, any>;

/** Two-class BMA probabilities with top-class confidences spread over [0.5, 1]. */
function twoClass(n: number): { probs: Float32Array; labels: Int32Array } {
  const probs = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const conf = 0.5 + (0.5 * ((i * 7) % n)) / n;
    const top = i % 2;
    probs[2 * i + top] = conf;
    probs[2 * i + 1 - top] = 1 - conf;
    labels[i] = i % 5 === 0 ? 1 - top : top; // one in five wrong
  }
  return { probs, labels };
}

/** The text of every <text> element of an SVG. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

describe('reliability diagram', () => {
  const { probs, labels } = twoClass(120);
  const bins = reliabilityBins(probs, 2, labels, 15);
  const spec = reliabilitySpec({ title: 'moons', bins, classes: 2, ece: 0.05, accuracy: 0.8, examples: 120 });

  test('two classes: the confidence axis is [0.5, 1] in both panels, and every bin has its count', async () => {
    const [diagram, counts] = spec.vconcat as Json[];
    expect(diagram.layer[0].encoding.x.scale.domain).toEqual([0.5, 1]);
    expect(counts.layer[0].encoding.x.scale.domain).toEqual([0.5, 1]);
    const drawn = (counts.data.values as Json[]).map((b) => b.count);
    const nonEmpty = bins.filter((b) => b.count > 0).map((b) => b.count);
    expect(drawn).toEqual(nonEmpty);
    expect(drawn.reduce((a, b) => a + b, 0)).toBe(120);
    // The bin straddling 0.5 (7/15 .. 8/15) starts at 0.5.
    expect(Math.min(...(counts.data.values as Json[]).map((b) => b.lo))).toBeGreaterThanOrEqual(0.5);
    const svg = await renderSvg(spec);
    expect(parseXmlRoot(svg)).toBe('svg');
    expect(svg).toContain('bins_marks');
    expect(pathsOfGroup(svg, 'count_bars_marks')).toHaveLength(nonEmpty.length);
    const labelsDrawn = texts(svg.slice(svg.indexOf('count_labels_marks')));
    for (const c of nonEmpty) expect(labelsDrawn).toContain(String(c));
    // No tick left of 0.5 on the confidence axes.
    expect(texts(svg)).not.toContain('0.40');
    expect(texts(svg)).toContain('0.50');
  });

  test('K classes: the axis starts at 1/K', () => {
    expect(confidenceDomain(2)).toEqual([0.5, 1]);
    expect(confidenceDomain(10)).toEqual([0.1, 1]);
    const three = reliabilitySpec({ title: 't', bins, classes: 3, ece: 0, accuracy: 1, examples: 120 });
    expect((three.vconcat as Json[])[0].layer[0].encoding.x.scale.domain).toEqual([confidenceDomain(3)[0], 1]);
    expect(confidenceDomain(3)[0]).toBeCloseTo(1 / 3, 5);
  });
});

describe('regression plot', () => {
  const G = 50;
  const grid = Float32Array.from({ length: G }, (_, i) => -2 + (4 * i) / (G - 1));
  const members = [0, 1, 2, 3].map((k) => grid.map((x) => Math.sin(x) + 0.1 * k * x));
  const mean = grid.map((_, i) => members.reduce((s, m) => s + m[i], 0) / 4);
  const std = grid.map((_, i) => Math.sqrt(members.reduce((s, m) => s + (m[i] - mean[i]) ** 2, 0) / 4));
  const plot = {
    title: 'toy',
    xName: 'x',
    yName: 'y',
    train: { x: [-1, 0, 1], y: [-0.8, 0, 0.8] },
    test: { x: [-0.5, 0.5], y: [-0.5, 0.5] },
    grid,
    mean,
    std,
    members,
  };

  test('train and test points in two colours (and shapes), one curve per particle over the band', async () => {
    const spec = regressionSpec(plot);
    const layers = (spec.layer as Json[]).map((l) => l.name);
    // Bottom to top: the band never covers a particle's curve.
    expect(layers).toEqual(['band', 'bma_mean', 'particles', 'data']);
    const svg = await renderSvg(spec);
    expect(parseXmlRoot(svg)).toBe('svg');
    const data = svg.slice(svg.indexOf('data_marks'), svg.indexOf('</g>', svg.indexOf('data_marks')));
    const pointFills = new Set([...data.matchAll(/fill="(#[0-9a-fA-F]{6})"/g)].map((m) => m[1].toLowerCase()));
    expect(pointFills.size).toBe(2);
    // Far apart, not two shades of one hue.
    const [a, b] = [...pointFills].map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
    expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])).toBeGreaterThan(120);
    // One line per particle, each in its own colour.
    const particleLines = [...svg.matchAll(/class="[^"]*particles_marks[^"]*"[^>]*>\s*<path[^>]*stroke="(#[0-9a-fA-F]{6})"/g)].map((m) => m[1]);
    expect(particleLines).toHaveLength(4);
    expect(new Set(particleLines).size).toBe(4);
    // The legend names both splits.
    expect(texts(svg)).toEqual(expect.arrayContaining(['train', 'test']));
  });
});
