// Micro-benchmark of the DCSM cores: messages per second through the full
// cycle Fetched -> Begin (RunHandler) -> Succeed -> Commit (WriteLedger +
// LedgerCommitted) + CommitBroker, in batches, on one partition of one core.
//
//   node dist/bench/core.js            (HTMQC_BENCH_MS=1500 per row, HTMQC_BENCH_BATCH=1000)
//
// Rows use the all-succeeded fast path (succeededRange) unless their results
// column says `results` (the general handlerResults arrays).  Prints a table
// and one JSON line; the targets are checked on the fast-path rows.  "trace on" drains the native core's
// binary ring once per batch (the hot-path cost); "trace on + NDJSON" also
// decodes and renders every record, which the runtime does off the hot path.

import { createCore, OUTCOME_SUCCEEDED, renderTraceRecord, type Core, type CoreKind } from '../src/core';
import { NativeCore } from '../src/core/native';

const BATCH = Number(process.env['HTMQC_BENCH_BATCH'] ?? 1000);
const ROW_MS = Number(process.env['HTMQC_BENCH_MS'] ?? 1500);

type TraceMode = 'off' | 'on' | 'on+ndjson';

/** How the batch of successes reaches the core: the range fast path or handlerResults arrays. */
type ResultPath = 'range' | 'results';

interface Row { core: CoreKind; trace: TraceMode; path: ResultPath; msgPerSec: number; batches: number }

function drainFor(core: Core, mode: TraceMode): () => void {
  if (mode === 'off') return () => undefined;
  if (mode === 'on+ndjson') {
    let bytes = 0;
    return () => { core.drainTrace((r) => { bytes += renderTraceRecord(r).length + 1; }); };
  }
  if (core instanceof NativeCore) return () => { core.drainTraceBinary(); };
  return () => { core.drainTrace(() => undefined); };
}

function run(kind: CoreKind, mode: TraceMode, path: ResultPath = 'range'): Row {
  const core = createCore({
    kind, maxInFlightPerPartition: 4 * BATCH, maxRetries: 3, retryBackoffMs: 100,
    tracing: mode !== 'off', traceCapacity: 8 * BATCH,
  });
  const drain = drainFor(core, mode);
  core.assigned(0, 1, 0, 1);
  let base = 0;
  const partitions = new Int32Array(BATCH);
  const offsets = new Float64Array(BATCH);
  const outcomes = new Uint8Array(BATCH).fill(OUTCOME_SUCCEEDED);
  const cycle = (): void => {
    core.fetched(0, base, BATCH);
    if (path === 'range') {
      core.succeededRange(0, base, base + BATCH);
    } else {
      for (let i = 0; i < BATCH; i++) offsets[i] = base + i;
      core.handlerResults(partitions, offsets, outcomes, BATCH);
    }
    core.ledgerCommitted(0, base + BATCH);
    drain();
    base += BATCH;
  };
  const warmUntil = performance.now() + Math.min(300, ROW_MS / 4);
  while (performance.now() < warmUntil) cycle();
  const start = performance.now();
  const startBase = base;
  let batches = 0;
  let now = start;
  while (now - start < ROW_MS) {
    for (let i = 0; i < 16; i++) cycle();
    batches += 16;
    now = performance.now();
  }
  if (core.traceLost() !== 0) throw new Error(`${kind}: ${core.traceLost()} trace records lost`);
  return { core: kind, trace: mode, path, msgPerSec: ((base - startBase) / (now - start)) * 1000, batches };
}

function main(): void {
  const rows: Row[] = [];
  for (const kind of ['ts', 'native'] as const) {
    for (const mode of ['off', 'on', 'on+ndjson'] as const) rows.push(run(kind, mode));
    rows.push(run(kind, 'off', 'results'));
  }
  const rate = (kind: CoreKind, mode: TraceMode): number => rows.find((r) => r.core === kind && r.trace === mode && r.path === 'range')!.msgPerSec;
  const fmt = (n: number): string => (n / 1e6).toFixed(2).padStart(8);
  console.log(`DCSM core cycle, batch ${BATCH}, one partition, ${ROW_MS} ms per row`);
  console.log('core     trace      results    M msg/s   batches');
  for (const r of rows) console.log(`${r.core.padEnd(8)} ${r.trace.padEnd(10)} ${r.path.padEnd(8)} ${fmt(r.msgPerSec)}   ${r.batches}`);
  const ratioOff = rate('native', 'off') / rate('ts', 'off');
  const ratioOn = rate('native', 'on') / rate('ts', 'on');
  console.log(`native / ts: ${ratioOff.toFixed(1)}x tracing off, ${ratioOn.toFixed(1)}x tracing on`);
  const targets = {
    nativeTraceOff: { want: 20e6, got: rate('native', 'off') },
    nativeTraceOn: { want: 10e6, got: rate('native', 'on') },
    nativeVsTs: { want: 10, got: ratioOff },
  };
  for (const [name, t] of Object.entries(targets)) {
    console.log(`target ${name}: ${t.got >= t.want ? 'met' : 'MISSED'} (${name === 'nativeVsTs' ? `${t.got.toFixed(1)}x, want ${t.want}x` : `${fmt(t.got).trim()} M/s, want ${t.want / 1e6} M/s`})`);
  }
  console.log(JSON.stringify({
    bench: 'core', batch: BATCH, rowMs: ROW_MS,
    rows: rows.map((r) => ({ core: r.core, trace: r.trace, path: r.path, msgPerSec: Math.round(r.msgPerSec) })),
    nativeOverTs: { traceOff: Number(ratioOff.toFixed(2)), traceOn: Number(ratioOn.toFixed(2)) },
    targetsMet: Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, t.got >= t.want])),
  }));
}

main();
