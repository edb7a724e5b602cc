// Paths from the initial state that together traverse every edge of the
// graph (an edge cover by walks), built greedily and deterministically:
//
//   start a walk at the initial state;
//   repeat: find, breadth-first from where the walk stands, the nearest
//           state with an untraversed outgoing edge; walk there, take the
//           lowest-numbered such edge;
//   until no untraversed edge is reachable (DCSM's budgets make the graph
//   finite and mostly acyclic) or the walk has maxInputs inputs; then close
//   the walk (see below) and start the next one at the initial state.
//
// A walk may not end in the middle of a step: a state from which only the
// implementation's own decisions lead on (Begin, DeadLetter, CommitBroker;
// `isDecision`) is left along its single outgoing edge first.

import type { Edge, StateGraph } from './graph';

export interface CoverOptions {
  /** An edge taken by the implementation itself, inside the step of the input before it. */
  readonly isDecision: (e: Edge) => boolean;
  /** An edge that becomes a step (an input or a reset); bounds walk length. */
  readonly isInput: (e: Edge) => boolean;
  /** Start a new walk once a walk has this many inputs. */
  readonly maxInputs: number;
}

export class CoverError extends Error {}

/** Every edge id appears in at least one returned path. */
export function coverEdges(g: StateGraph, opts: CoverOptions): Edge[][] {
  const covered = new Uint8Array(g.edges.length);
  let uncovered = g.edges.length;
  // Next untraversed edge per node (edges of a node are in id order).
  const cursor = new Int32Array(g.states.length);
  const firstUncovered = (node: number): Edge | undefined => {
    const out = g.out[node]!;
    while (cursor[node]! < out.length && covered[out[cursor[node]!]!.id] === 1) cursor[node]!++;
    return out[cursor[node]!];
  };
  const take = (path: Edge[], e: Edge) => {
    path.push(e);
    if (covered[e.id] === 0) {
      covered[e.id] = 1;
      uncovered--;
    }
  };
  const decisionOnly = (node: number): Edge | undefined => {
    const out = g.out[node]!;
    if (out.length === 0 || !opts.isDecision(out[0]!)) return undefined;
    if (out.length !== 1 || !out.every(opts.isDecision)) {
      throw new CoverError(`state ${node}: a decision must be the only way on (MC_Conformance rules 1 and 2)`);
    }
    return out[0];
  };

  const paths: Edge[][] = [];
  while (uncovered > 0) {
    const path: Edge[] = [];
    let at = 0;
    let inputs = 0;
    for (;;) {
      const route = nearestUncovered(g, at, firstUncovered);
      if (route === undefined) break;
      for (const e of route) {
        take(path, e);
        if (opts.isInput(e)) inputs++;
      }
      at = route[route.length - 1]!.to;
      if (inputs >= opts.maxInputs) break;
    }
    for (let d = decisionOnly(at); d !== undefined; d = decisionOnly(at)) {
      take(path, d);
      at = d.to;
    }
    if (path.length === 0) throw new CoverError(`${uncovered} edges are unreachable from the initial state`);
    paths.push(path);
  }
  return paths;
}

/** The shortest route from `from` ending with an untraversed edge, or undefined. */
function nearestUncovered(g: StateGraph, from: number, firstUncovered: (n: number) => Edge | undefined): Edge[] | undefined {
  const via = new Map<number, Edge | null>([[from, null]]);
  const queue = [from];
  for (let qi = 0; qi < queue.length; qi++) {
    const n = queue[qi]!;
    const e = firstUncovered(n);
    if (e !== undefined) {
      const route = [e];
      for (let back = via.get(n)!; back !== null; back = via.get(back.from)!) route.push(back);
      return route.reverse();
    }
    for (const next of g.out[n]!) {
      if (!via.has(next.to)) {
        via.set(next.to, next);
        queue.push(next.to);
      }
    }
  }
  return undefined;
}
