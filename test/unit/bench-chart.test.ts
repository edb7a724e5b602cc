// bench/chart.ts renders bench/results/latest.json as SVG, and bench/profile.ts
// attributes CPU-profile samples to categories.  No broker.

import * as assert from 'assert';
import { escapeXml, renderChart, type ChartInput } from '../../bench/chart';
import { summariseProfile } from '../../bench/profile';

const input: ChartInput = {
  startedAt: '2026-11-21T12:00:00.000Z',
  host: { cpus: 2, node: 'v20.0.0' },
  throughput: [{
    records: 1000, valueBytes: 100, partitions: 6, reps: 3,
    median: {
      htmqcNative: { msgPerSec: 50000, mbPerSec: 5 }, htmqcTs: { msgPerSec: 45000, mbPerSec: 4.5 },
      kafkajs: { msgPerSec: 600000, mbPerSec: 60 }, kcat: { msgPerSec: 1000000, mbPerSec: 100 },
    },
    ratios: { aOverC: 0.083, aOverD: 0.05 },
  }],
  latency: { ratePerSec: 25000, htmqc: { p50Ms: 3, p99Ms: 40, p999Ms: 90 }, kafkajs: { p50Ms: 2, p99Ms: 30, p999Ms: 70 } },
  latencyLight: { ratePerSec: 1000, htmqc: { p50Ms: 0.8, p99Ms: 4, p999Ms: 9 }, kafkajs: { p50Ms: 0.5, p99Ms: 3, p999Ms: 6 } },
  memory: { records: 2000000, rssMiB: { min: 200, max: 220, median: 210 }, flatWithin10pct: true, series: [{ tS: 0, rssMiB: 150 }, { tS: 10, rssMiB: 210 }, { tS: 20, rssMiB: 212 }] },
};

describe('bench chart', () => {
  it('renders one well-formed SVG with every panel', () => {
    const svg = renderChart(input);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.strictEqual((svg.match(/<svg/g) ?? []).length, 1);
    assert.ok(svg.includes('Throughput'));
    assert.ok(svg.includes('latency'));
    assert.ok(svg.includes('RSS while draining 2,000,000 records'));
    assert.ok(svg.includes('a/c 0.083'));
    assert.ok(svg.includes('600.0k'));
    assert.ok(!/NaN|undefined|Infinity/.test(svg), 'no NaN/undefined/Infinity in the SVG');
    // every opened element is closed or self-closed
    for (const tag of ['text', 'svg']) {
      assert.strictEqual((svg.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length, (svg.match(new RegExp(`</${tag}>`, 'g')) ?? []).length, tag);
    }
  });

  it('renders partial results (one scenario only) without NaN', () => {
    const svg = renderChart({ throughput: input.throughput! });
    assert.ok(svg.includes('Throughput'));
    assert.ok(!svg.includes('latency'));
    assert.ok(!/NaN|undefined/.test(svg));
    assert.ok(renderChart({}).includes('</svg>'));
  });

  it('draws kcat latency bars when every load measured kcat, and none when one did not', () => {
    const kcat = { p50Ms: 1.3, p99Ms: 7.7, p999Ms: 12.5 };
    const withKcat = renderChart({ latency: { ...input.latency!, kcat }, latencyLight: { ...input.latencyLight!, kcat } });
    assert.strictEqual((withKcat.match(/>7\.7</g) ?? []).length, 2, 'one kcat p99 bar per load');
    const partial = renderChart({ latency: { ...input.latency!, kcat }, latencyLight: input.latencyLight! });
    assert.ok(!partial.includes('>7.7<'));
    assert.ok(!/NaN|undefined/.test(partial));
  });

  it('escapes text', () => {
    assert.strictEqual(escapeXml('a<b>&"c"'), 'a&lt;b&gt;&amp;&quot;c&quot;');
  });
});

describe('bench profile summary', () => {
  it('attributes samples inclusively to categories and self time to functions', () => {
    const frame = (functionName: string, url = ''): { functionName: string; url: string; lineNumber: number } => ({ functionName, url, lineNumber: 0 });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
        { id: 2, callFrame: frame('flush', 'file:///x/dist/src/runtime/ledger-writer.js'), children: [3] },
        { id: 3, callFrame: frame('commit', 'file:///x/dist/src/ledger/sqlite/store.js') },
        { id: 4, callFrame: frame('decode', 'file:///x/node_modules/kafkajs/src/protocol/recordBatch/v0/index.js') },
        { id: 5, callFrame: frame('(idle)') },
      ],
      samples: [3, 3, 4, 5],
      timeDeltas: [1000, 1000, 1000, 1000],
      startTime: 0, endTime: 4000,
    };
    const s = summariseProfile(profile);
    assert.strictEqual(s.totalMs, 4);
    const cat = (prefix: string): number => s.categories.find((c) => c.name.startsWith(prefix))!.ms;
    assert.strictEqual(cat('ledger commit'), 2);
    assert.strictEqual(cat('htmqc runtime'), 2);
    assert.strictEqual(cat('kafkajs protocol decode'), 1);
    assert.strictEqual(cat('kafkajs (all)'), 1);
    assert.strictEqual(cat('idle'), 1);
    assert.strictEqual(s.topSelf[0]!.fn, 'commit');
    assert.strictEqual(s.topSelf[0]!.ms, 2);
  });
});
