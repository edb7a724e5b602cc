// The state graph TLC dumps with `-dump dot,actionlabels`, read into a
// deterministic form.
//
// TLC names nodes by fingerprint and writes them in the order its workers
// meet them; neither is part of the contract.  Here a state is identified by
// its content (canonical JSON), nodes are numbered in breadth-first order
// from the initial state with successors ordered by their content, and edges
// are numbered in that order too.  Two dumps of the same graph therefore give
// the same numbering, byte for byte, whatever TLC's fingerprints were.
//
// Every DCSM state carries lastAction, the label of the action that produced
// it, so the action of edge s -> t is t.lastAction.

import { canonicalJson, parseTlaState, type TlaValue } from './tla-value';

export type SpecState = { readonly [variable: string]: TlaValue };

export interface ActionLabel {
  readonly name: string;
  readonly args: readonly TlaValue[];
}

export interface Edge {
  readonly id: number;
  readonly from: number;
  readonly to: number;
  /** The action that produced the target: lastAction of `to`. */
  readonly action: ActionLabel;
}

export interface StateGraph {
  /** states[i] is node i; node 0 is the initial state. */
  readonly states: readonly SpecState[];
  readonly edges: readonly Edge[];
  /** out[i]: the edges leaving node i, in id order. */
  readonly out: readonly (readonly Edge[])[];
}

export class GraphError extends Error {}

interface RawGraph {
  readonly labels: Map<string, string>;
  readonly arcs: Array<[string, string]>;
  readonly initial: string[];
}

/** Splits a TLC dot dump into node labels (unescaped) and arcs. */
export function readDot(text: string): RawGraph {
  const labels = new Map<string, string>();
  const arcs: Array<[string, string]> = [];
  const initial: string[] = [];
  const node = /^(-?\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]\s*;?\s*$/;
  const arc = /^(-?\d+) -> (-?\d+)(?: \[.*\])?\s*;?\s*$/;
  for (const line of text.split('\n')) {
    const a = arc.exec(line);
    if (a !== null) {
      arcs.push([a[1]!, a[2]!]);
      continue;
    }
    const n = node.exec(line);
    if (n !== null) {
      labels.set(n[1]!, unescapeDot(n[2]!));
      if (/style\s*=\s*filled/.test(n[3]!)) initial.push(n[1]!);
    }
  }
  return { labels, arcs, initial };
}

function unescapeDot(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** Builds the deterministic graph from a dot dump (see the header). */
export function parseStateGraph(dot: string): StateGraph {
  const raw = readDot(dot);
  if (raw.initial.length !== 1) throw new GraphError(`expected one initial state (style filled), found ${raw.initial.length}`);
  // Parse every state once; key nodes by content.
  const keyOf = new Map<string, string>();
  const stateOf = new Map<string, SpecState>();
  for (const [id, label] of raw.labels) {
    const state = parseTlaState(label);
    const key = canonicalJson(state);
    keyOf.set(id, key);
    stateOf.set(key, state);
  }
  const succ = new Map<string, Set<string>>();
  for (const [from, to] of raw.arcs) {
    const a = keyOf.get(from);
    const b = keyOf.get(to);
    if (a === undefined || b === undefined) throw new GraphError(`arc ${from} -> ${to} names a node without a label`);
    let set = succ.get(a);
    if (set === undefined) succ.set(a, set = new Set());
    set.add(b);
  }
  const initKey = keyOf.get(raw.initial[0]!)!;
  const index = new Map<string, number>([[initKey, 0]]);
  const order = [initKey];
  const edgesFrom: string[][] = [];
  for (let i = 0; i < order.length; i++) {
    const next = [...(succ.get(order[i]!) ?? [])].sort();
    edgesFrom.push(next);
    for (const k of next) {
      if (!index.has(k)) {
        index.set(k, order.length);
        order.push(k);
      }
    }
  }
  const states = order.map((k) => stateOf.get(k)!);
  const edges: Edge[] = [];
  const out: Edge[][] = states.map(() => []);
  edgesFrom.forEach((targets, from) => {
    for (const k of targets) {
      const to = index.get(k)!;
      const e: Edge = { id: edges.length, from, to, action: actionOf(states[to]!) };
      edges.push(e);
      out[from]!.push(e);
    }
  });
  return { states, edges, out };
}

export function actionOf(state: SpecState): ActionLabel {
  const la = state['lastAction'];
  if (la === undefined || typeof la !== 'object' || Array.isArray(la)) throw new GraphError('state without lastAction');
  const name = la['name'];
  const args = la['args'];
  if (typeof name !== 'string' || !Array.isArray(args)) throw new GraphError('malformed lastAction');
  return { name, args };
}

/** Spec notation: Commit(c1, p1, 1, 0, 1). */
export function formatAction(a: ActionLabel): string {
  return `${a.name}(${a.args.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ')})`;
}
