// Drives one implementation through every vector and judges each reply
// against the spec's expectation.
//
// Per vector: reset (the vector's config), then per step
//   step  -> `step` with the input; the reply's commands (compared as a
//            multiset) or its error code must match; then `state`;
//   reset -> `reset` (the spec's Crash of the tested process); then `state`;
//   state -> `state` only (harness actions happened, the process saw nothing).
// The first mismatch fails the vector (the rest of it is skipped; the next
// vector starts with a reset).  A ProtocolFailure (crash, malformed output,
// timeout) ends the whole run: the process is gone.

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { ImplProcess, ProtocolFailure } from './impl-process';
import {
  formatCommand, formatInput, formatState, PROTOCOL_VERSION, VECTOR_FORMAT,
  type Answer, type Command, type ObservableState, type VectorHeader, type VectorStep,
} from '../protocol';

export interface VectorSuite {
  readonly header: VectorHeader;
  /** vectors[i] holds the steps of vector i + 1. */
  readonly vectors: readonly (readonly VectorStep[])[];
}

export class VectorFileError extends Error {}

export function parseVectors(text: string): VectorSuite {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new VectorFileError('empty vector file');
  const header = JSON.parse(lines[0]!) as VectorHeader;
  if (header.format !== VECTOR_FORMAT) throw new VectorFileError(`unknown vector format ${String(header.format)} (expected ${VECTOR_FORMAT})`);
  const vectors: VectorStep[][] = [];
  for (const line of lines.slice(1)) {
    const s = JSON.parse(line) as VectorStep;
    while (vectors.length < s.v) vectors.push([]);
    vectors[s.v - 1]!.push(s);
  }
  return { header, vectors };
}

/** A vector file: NDJSON, or NDJSON gzipped (the committed dcsm.ndjson.gz). */
export function readVectorText(file: string): string {
  const raw = fs.readFileSync(file);
  return (file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8');
}

export function loadVectors(file: string): VectorSuite {
  return parseVectors(readVectorText(file));
}

export interface Divergence {
  readonly v: number;
  readonly n: number;
  readonly step: VectorStep;
  /** Human-readable lines, spec terms first. */
  readonly lines: readonly string[];
}

export interface VectorResult {
  readonly v: number;
  readonly passed: boolean;
  readonly stepsRun: number;
  readonly divergence?: Divergence;
}

export interface SuiteResult {
  readonly implementation: string;
  readonly command: string;
  readonly results: readonly VectorResult[];
  /** Set when the process failed (crash, malformed output, timeout): later vectors did not run. */
  readonly protocolFailure?: { readonly v: number; readonly n: number; readonly failure: ProtocolFailure };
  readonly stepsRun: number;
  readonly seconds: number;
}

export interface RunOptions {
  readonly timeoutMs: number;
  readonly cwd?: string;
  /** Only these vector numbers (default all). */
  readonly only?: readonly number[];
  readonly onVector?: (r: VectorResult) => void;
}

function canonicalCommand(c: Command): string {
  return JSON.stringify(Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b))));
}

/** Keeps the fields PROTOCOL.md defines, in canonical order; throws on a malformed state. */
export function normaliseState(raw: unknown): ObservableState {
  const fail = (why: string): never => { throw new ProtocolFailure('malformed', `state reply: ${why}`); };
  if (raw === null || typeof raw !== 'object') fail('state must be an object');
  const parts = (raw as { partitions?: unknown }).partitions;
  if (!Array.isArray(parts)) fail('state.partitions must be an array');
  const int = (v: unknown, what: string): number => (typeof v === 'number' && Number.isInteger(v) ? v : fail(`${what} must be an integer`));
  const partitions = (parts as unknown[]).map((x) => {
    if (x === null || typeof x !== 'object') fail('a partition must be an object');
    const h = x as Record<string, unknown>;
    if (!Array.isArray(h['win'])) fail('win must be an array');
    const answer = h['answer'] ?? 'NoAnswer';
    if (typeof answer !== 'string') fail('answer must be a string');
    return {
      p: int(h['p'], 'p'), epoch: int(h['epoch'], 'epoch'), gen: int(h['gen'], 'gen'), base: int(h['base'], 'base'),
      win: (h['win'] as unknown[]).map((s) => {
        const slot = s as Record<string, unknown> | null;
        if (slot === null || typeof slot !== 'object' || typeof slot['st'] !== 'string') fail('a slot must be {st, tries}');
        return { st: slot!['st'] as never, tries: int(slot!['tries'], 'tries') };
      }),
      answer: answer as Answer,
    };
  });
  partitions.sort((a, b) => a.p - b.p);
  return { partitions };
}

/** Compares observable states with an absent answer read as NoAnswer (PROTOCOL.md). */
function sameState(a: ObservableState, b: ObservableState): boolean {
  const canonical = (s: ObservableState) => JSON.stringify(s.partitions.map((h) => ({
    p: h.p, epoch: h.epoch, gen: h.gen, base: h.base, win: h.win.map((x) => ({ st: x.st, tries: x.tries })), answer: h.answer ?? 'NoAnswer',
  })));
  return canonical(a) === canonical(b);
}

/** Compares two command lists as multisets; returns undefined when equal. */
export function commandDifference(expected: readonly Command[], actual: readonly Command[]): { missing: Command[]; unexpected: Command[] } | undefined {
  const pool = new Map<string, number>();
  for (const c of actual) pool.set(canonicalCommand(c), (pool.get(canonicalCommand(c)) ?? 0) + 1);
  const missing: Command[] = [];
  for (const c of expected) {
    const k = canonicalCommand(c);
    const n = pool.get(k) ?? 0;
    if (n === 0) missing.push(c);
    else pool.set(k, n - 1);
  }
  const unexpected = actual.filter((c) => {
    const k = canonicalCommand(c);
    const n = pool.get(k) ?? 0;
    if (n === 0) return false;
    pool.set(k, n - 1);
    return true;
  });
  return missing.length === 0 && unexpected.length === 0 ? undefined : { missing, unexpected };
}

function describeCommands(cs: readonly unknown[]): string {
  if (cs.length === 0) return '(none)';
  return cs.map((c) => {
    try {
      const s = formatCommand(c as Command);
      return s === undefined ? JSON.stringify(c) : s;
    } catch {
      return JSON.stringify(c);
    }
  }).join(' ');
}

function stepTitle(s: VectorStep): string {
  const spec = s.spec.length > 0 ? s.spec.join(' ; ') : '(no spec action)';
  switch (s.op) {
    case 'reset': return `${spec}  => reset`;
    case 'state': return `${spec}  => (no input)`;
    case 'step': return s.probe !== undefined ? `probe: ${s.probe}  => ${formatInput(s.input!)}` : `${spec}  => ${formatInput(s.input!)}`;
  }
}

/** Judges one step's replies; returns the divergence lines, or [] when it matches. */
export function judgeStep(step: VectorStep, reply: { type: string; [k: string]: unknown } | null, expectedState: ObservableState, actualState: ObservableState): string[] {
  const out: string[] = [];
  if (step.op === 'step' && reply !== null) {
    if (step.expect.error !== undefined) {
      if (reply.type !== 'error') {
        out.push(`expected: rejected with ${step.expect.error}`);
        out.push(`actual:   accepted; commands ${describeCommands(Array.isArray(reply['commands']) ? reply['commands'] : [])}`);
      } else if (reply['code'] !== step.expect.error) {
        out.push(`expected: rejected with ${step.expect.error}`);
        out.push(`actual:   rejected with ${String(reply['code'])} (${String(reply['message'] ?? '')})`);
      }
    } else if (reply.type === 'error') {
      out.push(`expected: accepted; commands ${describeCommands(step.expect.commands ?? [])}`);
      out.push(`actual:   rejected with ${String(reply['code'])} (${String(reply['message'] ?? '')})`);
    } else {
      const actual = reply['commands'] as Command[];
      const diff = commandDifference(step.expect.commands ?? [], actual);
      if (diff !== undefined) {
        out.push(`expected commands: ${describeCommands(step.expect.commands ?? [])}`);
        out.push(`actual commands:   ${describeCommands(actual)}`);
        if (diff.missing.length > 0) out.push(`  missing:    ${describeCommands(diff.missing)}`);
        if (diff.unexpected.length > 0) out.push(`  unexpected: ${describeCommands(diff.unexpected)}`);
      }
    }
  }
  if (out.length === 0 && !sameState(expectedState, actualState)) {
    out.push(`expected state: ${formatState(expectedState)}`);
    out.push(`actual state:   ${formatState(actualState)}`);
  }
  return out;
}

function checkReplyType(reply: { type: string; [k: string]: unknown }, expected: string, allowError: boolean): void {
  if (reply.type === expected) return;
  if (allowError && reply.type === 'error') {
    if (typeof reply['code'] !== 'string') throw new ProtocolFailure('malformed', `an error reply needs a string code: ${JSON.stringify(reply)}`);
    return;
  }
  const detail = reply.type === 'error' ? ` (${String(reply['code'])}: ${String(reply['message'] ?? '')})` : '';
  throw new ProtocolFailure('malformed', `expected a ${expected} reply, got ${reply.type}${detail}`);
}

/** Runs every vector (or opts.only) against `command`. */
export async function runSuite(suite: VectorSuite, command: string, opts: RunOptions): Promise<SuiteResult> {
  const started = Date.now();
  const results: VectorResult[] = [];
  let stepsRun = 0;
  let implementation = command;
  const impl = new ImplProcess(command, opts.timeoutMs, opts.cwd);
  let current = { v: 0, n: 0 };
  try {
    const hello = await impl.request('hello', { version: PROTOCOL_VERSION });
    checkReplyType(hello, 'hello_ok', false);
    if (hello['version'] !== PROTOCOL_VERSION) {
      throw new ProtocolFailure('malformed', `the implementation speaks protocol version ${String(hello['version'])}, the runner ${PROTOCOL_VERSION}`);
    }
    if (typeof hello['implementation'] === 'string') implementation = hello['implementation'];
    for (let i = 0; i < suite.vectors.length; i++) {
      const v = i + 1;
      if (opts.only !== undefined && !opts.only.includes(v)) continue;
      current = { v, n: 0 };
      checkReplyType(await impl.request('reset', { config: suite.header.config }), 'reset_ok', false);
      let expected: ObservableState = { partitions: [] };
      let result: VectorResult = { v, passed: true, stepsRun: 0 };
      for (const step of suite.vectors[i]!) {
        current = { v, n: step.n };
        let reply: { type: string; [k: string]: unknown } | null = null;
        if (step.op === 'step') {
          reply = await impl.request('step', { input: step.input });
          checkReplyType(reply, 'step_ok', true);
          if (reply.type === 'step_ok' && !Array.isArray(reply['commands'])) throw new ProtocolFailure('malformed', 'step_ok needs a commands array');
        } else if (step.op === 'reset') {
          checkReplyType(await impl.request('reset', { config: suite.header.config }), 'reset_ok', false);
        }
        const stateReply = await impl.request('state');
        checkReplyType(stateReply, 'state_ok', false);
        const actual = normaliseState(stateReply['state']);
        expected = step.expect.state ?? expected;
        stepsRun++;
        const lines = judgeStep(step, reply, expected, actual);
        if (lines.length > 0) {
          result = { v, passed: false, stepsRun: step.n, divergence: { v, n: step.n, step, lines } };
          break;
        }
        result = { v, passed: true, stepsRun: step.n };
      }
      results.push(result);
      opts.onVector?.(result);
    }
    return { implementation, command, results, stepsRun, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    if (!(e instanceof ProtocolFailure)) throw e;
    return { implementation, command, results, stepsRun, seconds: (Date.now() - started) / 1000, protocolFailure: { ...current, failure: e } };
  } finally {
    await impl.close();
  }
}

/** The report of one divergence: where in the vector, in spec terms, expected vs actual. */
export function formatDivergence(suite: VectorSuite, d: Divergence, context = 3): string[] {
  const steps = suite.vectors[d.v - 1]!;
  const out = [`vector ${d.v}, step ${d.n} of ${steps.length}:`];
  const from = Math.max(0, d.n - 1 - context);
  if (from > 0) out.push(`    ... ${from} earlier steps passed`);
  for (const s of steps.slice(from, d.n - 1)) out.push(`    ok   ${s.n}. ${stepTitle(s)}`);
  out.push(`    FAIL ${d.n}. ${stepTitle(d.step)}`);
  for (const l of d.lines) out.push(`         ${l}`);
  return out;
}

export interface Coverage {
  readonly vectors: number;
  readonly steps: number;
  readonly probes: number;
  readonly actionsCovered: number;
  readonly actions: number;
  readonly edgesCovered: number;
  readonly edges: number;
  readonly states: number;
}

/** Coverage of the given vectors (all by default) over the graph of the header. */
export function coverage(suite: VectorSuite, which?: (v: number) => boolean): Coverage {
  const edges = new Set<number>();
  const actions = new Set<string>();
  let steps = 0;
  let probes = 0;
  let vectors = 0;
  suite.vectors.forEach((vs, i) => {
    if (which !== undefined && !which(i + 1)) return;
    vectors++;
    for (const s of vs) {
      steps++;
      if (s.probe !== undefined) probes++;
      for (const e of s.edges) edges.add(e);
      for (const a of s.spec) actions.add(a.slice(0, a.indexOf('(')));
    }
  });
  return {
    vectors, steps, probes,
    actionsCovered: suite.header.graph.actions.filter((a) => actions.has(a)).length,
    actions: suite.header.graph.actions.length,
    edgesCovered: edges.size,
    edges: suite.header.graph.edges,
    states: suite.header.graph.states,
  };
}

export function formatCoverage(c: Coverage): string {
  return `${c.vectors} vectors, ${c.steps} steps (${c.probes} probes of rejected inputs); ` +
    `actions ${c.actionsCovered}/${c.actions}; edges ${c.edgesCovered}/${c.edges} of the ${c.states}-state graph`;
}

/** The full text report of a run; returns [lines, ok]. */
export function formatSuiteResult(suite: VectorSuite, r: SuiteResult, maxDetailed = 5): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  const failed = r.results.filter((x) => !x.passed);
  const passed = r.results.length - failed.length;
  failed.slice(0, maxDetailed).forEach((f) => lines.push(`FAIL ${formatDivergence(suite, f.divergence!).join('\n')}`));
  if (failed.length > maxDetailed) {
    lines.push(`FAIL ... and ${failed.length - maxDetailed} more vectors: ${failed.slice(maxDetailed).map((f) => `${f.v}@${f.divergence!.n}`).join(' ')}`);
  }
  if (r.protocolFailure !== undefined) {
    const pf = r.protocolFailure;
    lines.push(`ERROR vector ${pf.v}, step ${pf.n}: ${pf.failure.kind}: ${pf.failure.message}`);
    const step = pf.v > 0 && pf.n > 0 ? suite.vectors[pf.v - 1]?.[pf.n - 1] : undefined;
    if (step !== undefined) lines.push(`      while running ${stepTitle(step)}`);
  }
  const total = suite.vectors.length;
  const notRun = total - r.results.length;
  lines.push(`${r.implementation}: ${passed}/${total} vectors passed, ${failed.length} failed` +
    `${notRun > 0 ? `, ${notRun} not run` : ''}; ${r.stepsRun} steps in ${r.seconds.toFixed(1)} s`);
  lines.push(`coverage of the suite: ${formatCoverage(coverage(suite))}`);
  const passing = new Set(r.results.filter((x) => x.passed).map((x) => x.v));
  const pc = coverage(suite, (v) => passing.has(v));
  lines.push(`covered by passing vectors: actions ${pc.actionsCovered}/${pc.actions}, edges ${pc.edgesCovered}/${pc.edges}`);
  return { lines, ok: failed.length === 0 && notRun === 0 && r.protocolFailure === undefined };
}
