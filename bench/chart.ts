// Renders bench/results/latest.json (written by bench/main.ts) as one SVG:
// throughput bars per value size, produce-to-commit latency percentiles
// (log scale), and the RSS series of the backlog drain.  Hand-written SVG,
// no dependencies.
//
//   node dist/bench/chart.js [in=bench/results/latest.json] [out=bench/results/chart.svg]

import * as fs from 'fs';
import * as path from 'path';

export interface ChartInput {
  startedAt?: string;
  host?: { cpus?: number; node?: string };
  throughput?: {
    records: number;
    valueBytes: number;
    partitions: number;
    reps: number;
    median: Record<string, { msgPerSec: number; mbPerSec: number }>;
    ratios: { aOverC: number; aOverD: number };
  }[];
  latency?: LatencyInput;
  latencyLight?: LatencyInput;
  memory?: MemoryInput;
  /** The same backlog drained at the bench's wider --window. */
  memoryWideWindow?: MemoryInput;
}

interface LatencyInput {
  ratePerSec: number;
  htmqc: { p50Ms: number; p99Ms: number; p999Ms: number };
  kafkajs: { p50Ms: number; p99Ms: number; p999Ms: number };
  /** Absent in results from before kcat was measured for latency. */
  kcat?: { p50Ms: number; p99Ms: number; p999Ms: number };
}

const VARIANTS: readonly [string, string, string][] = [
  ['htmqcNative', 'htmqc native', '#1f77b4'],
  ['htmqcTs', 'htmqc ts core', '#6baed6'],
  ['kafkajs', 'kafkajs', '#ff7f0e'],
  ['kcat', 'kcat', '#7f7f7f'],
  ['htmqcEffect', 'htmqc + INSERT effect', '#2ca02c'],
];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(s)}</text>`;
}

function fmtK(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

function finite(n: number | null | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/** One panel of grouped bars; values on a linear axis from 0. */
function throughputPanel(x0: number, y0: number, w: number, h: number, tp: NonNullable<ChartInput['throughput']>): string {
  const out: string[] = [];
  out.push(text(x0, y0 - 8, 'Throughput, messages/s (median of interleaved rounds)', 'font-weight="bold"'));
  const max = Math.max(1, ...tp.flatMap((t) => VARIANTS.map(([k]) => finite(t.median[k]?.msgPerSec))));
  const groupW = w / Math.max(1, tp.length);
  const barW = (groupW * 0.8) / VARIANTS.length;
  out.push(`<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#333"/>`);
  tp.forEach((t, g) => {
    const gx = x0 + g * groupW + groupW * 0.1;
    VARIANTS.forEach(([k, , color], i) => {
      const v = finite(t.median[k]?.msgPerSec);
      const bh = (v / max) * (h - 20);
      const bx = gx + i * barW;
      out.push(`<rect x="${bx.toFixed(1)}" y="${(y0 + h - bh).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${bh.toFixed(1)}" fill="${color}"/>`);
      out.push(text(bx + (barW - 4) / 2, y0 + h - bh - 4, fmtK(v), 'font-size="10" text-anchor="middle"'));
    });
    out.push(text(gx + (groupW * 0.8) / 2, y0 + h + 16,
      `${t.records.toLocaleString('en-US')} x ${t.valueBytes} B, ${t.partitions} partitions: a/c ${t.ratios.aOverC}, a/d ${t.ratios.aOverD}`, 'font-size="11" text-anchor="middle"'));
  });
  return out.join('\n');
}

/** Latency percentiles on a log axis, htmqc vs kafkajs (and kcat when measured), one group per load. */
function latencyPanel(x0: number, y0: number, w: number, h: number, loads: { label: string; l: LatencyInput }[]): string {
  const out: string[] = [];
  out.push(text(x0, y0 - 8, 'Produce-to-commit latency, ms (log scale): p50 / p99 / p99.9', 'font-weight="bold"'));
  const all: [string, 'htmqc' | 'kafkajs' | 'kcat', string][] = [['htmqc', 'htmqc', '#1f77b4'], ['kafkajs', 'kafkajs', '#ff7f0e'], ['kcat', 'kcat', '#7f7f7f']];
  const series = all.filter(([, key]) => loads.every(({ l }) => l[key] !== undefined));
  const vals = loads.flatMap(({ l }) => series.flatMap(([, key]) => [l[key]!.p50Ms, l[key]!.p99Ms, l[key]!.p999Ms])).filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(0.5, ...vals))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...vals))));
  const y = (v: number): number => y0 + h - ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(`<line x1="${x0}" y1="${y(d).toFixed(1)}" x2="${x0 + w}" y2="${y(d).toFixed(1)}" stroke="#ddd"/>`);
    out.push(text(x0 - 4, y(d) + 4, d >= 1 ? String(d) : d.toString(), 'font-size="10" text-anchor="end"'));
  }
  out.push(`<line x1="${x0}" y1="${y(5).toFixed(1)}" x2="${x0 + w}" y2="${y(5).toFixed(1)}" stroke="#d62728" stroke-dasharray="4 3"/>`);
  out.push(text(x0 + w - 2, y(5) - 3, 'target p99 5 ms', 'font-size="10" fill="#d62728" text-anchor="end"'));
  const groupW = w / Math.max(1, loads.length);
  const pcts: ['p50Ms' | 'p99Ms' | 'p999Ms', string][] = [['p50Ms', 'p50'], ['p99Ms', 'p99'], ['p999Ms', 'p99.9']];
  const barW = (groupW * 0.8) / (series.length * pcts.length);
  loads.forEach(({ label, l }, g) => {
    const gx = x0 + g * groupW + groupW * 0.1;
    let i = 0;
    for (const [, key, color] of series) {
      pcts.forEach(([pk, pl], j) => {
        const v = finite(l[key]![pk]);
        const bx = gx + i * barW;
        const top = y(v);
        out.push(`<rect x="${bx.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 3).toFixed(1)}" height="${(y0 + h - top).toFixed(1)}" fill="${color}" fill-opacity="${(1 - j * 0.3).toFixed(1)}"/>`);
        out.push(text(bx + (barW - 3) / 2, top - 3, v >= 10 ? v.toFixed(0) : v.toFixed(1), 'font-size="9" text-anchor="middle"'));
        out.push(text(bx + (barW - 3) / 2, y0 + h + 12, pl, 'font-size="9" text-anchor="middle"'));
        i++;
      });
    }
    out.push(text(gx + (groupW * 0.8) / 2, y0 + h + 26, `${label}: ${l.ratePerSec.toLocaleString('en-US')} msg/s`, 'font-size="11" text-anchor="middle"'));
  });
  return out.join('\n');
}

export type MemoryInput = { window?: number; records: number; rssMiB: { min: number; max: number; median: number }; flatWithin10pct: boolean; series?: { tS: number; rssMiB: number }[] };

function memoryPanel(x0: number, y0: number, w: number, h: number, m: MemoryInput): string {
  const out: string[] = [];
  const s = m.series ?? [];
  out.push(text(x0, y0 - 8, `RSS while draining ${m.records.toLocaleString('en-US')} records${m.window ? `, window ${m.window.toLocaleString('en-US')} per partition` : ''}, MiB (median ${m.rssMiB.median}, flat +-10 %: ${m.flatWithin10pct ? 'yes' : 'no'})`, 'font-weight="bold"'));
  if (s.length < 2) return out.join('\n');
  const tMax = Math.max(...s.map((p) => p.tS));
  const rMax = Math.max(...s.map((p) => p.rssMiB)) * 1.1;
  const px = (t: number): number => x0 + (t / tMax) * w;
  const py = (r: number): number => y0 + h - (r / rMax) * h;
  out.push(`<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#333"/>`);
  const band = [m.rssMiB.median * 0.9, m.rssMiB.median * 1.1];
  out.push(`<rect x="${x0}" y="${py(band[1]!).toFixed(1)}" width="${w}" height="${(py(band[0]!) - py(band[1]!)).toFixed(1)}" fill="#2ca02c" fill-opacity="0.12"/>`);
  out.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${s.map((p) => `${px(p.tS).toFixed(1)},${py(p.rssMiB).toFixed(1)}`).join(' ')}"/>`);
  for (const r of [0, rMax / 2, rMax]) out.push(text(x0 - 4, py(r) + 4, r.toFixed(0), 'font-size="10" text-anchor="end"'));
  out.push(text(x0 + w, y0 + h + 14, `${tMax.toFixed(0)} s`, 'font-size="10" text-anchor="end"'));
  out.push(text(x0, y0 + h + 14, '0 s', 'font-size="10"'));
  return out.join('\n');
}

export function renderChart(r: ChartInput): string {
  const W = 960;
  const parts: string[] = [];
  let y = 50;
  parts.push(text(20, 24, `htmqc benchmarks${r.startedAt ? `, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC` : ''}${r.host?.cpus ? `, ${r.host.cpus} CPUs` : ''}${r.host?.node ? `, Node ${r.host.node}` : ''}`, 'font-size="15" font-weight="bold"'));
  // legend
  VARIANTS.forEach(([, label, color], i) => {
    parts.push(`<rect x="${20 + i * 130}" y="34" width="12" height="12" fill="${color}"/>`);
    parts.push(text(36 + i * 130, 44, label, 'font-size="11"'));
  });
  if (r.throughput && r.throughput.length > 0) {
    y += 20;
    parts.push(throughputPanel(70, y, W - 100, 220, r.throughput));
    y += 220 + 50;
  }
  const loads: { label: string; l: LatencyInput }[] = [];
  if (r.latency) loads.push({ label: '50 % of the end-to-end max', l: r.latency });
  if (r.latencyLight) loads.push({ label: 'light load', l: r.latencyLight });
  if (loads.length > 0) {
    y += 20;
    parts.push(latencyPanel(70, y, W - 100, 220, loads));
    y += 220 + 55;
  }
  for (const m of [r.memory, r.memoryWideWindow]) {
    if (!m) continue;
    y += 20;
    parts.push(memoryPanel(70, y, W - 100, 160, m));
    y += 160 + 40;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${y}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..', '..');
  const input = process.argv[2] ?? path.join(root, 'bench', 'results', 'latest.json');
  const output = process.argv[3] ?? path.join(path.dirname(input), 'chart.svg');
  const svg = renderChart(JSON.parse(fs.readFileSync(input, 'utf8')) as ChartInput);
  fs.writeFileSync(output, svg);
  console.log(`wrote ${output} (${svg.length} bytes)`);
}
