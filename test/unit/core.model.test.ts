// Model-based differential test of the two DCSM cores (spec/DCSM.tla).
//
// fast-check generates sequences of environment and consumer steps -- Produce,
// Rebalance, Assign, Revoke, Fetch, handler results (Succeed/Fail, in batches
// and as the all-succeeded range), Tick (Retry), ledger answers (Commit,
// CommitRejected), lost answers (LoseAnswer with the write applied or
// aborted, then Recover from the model ledger's row), Crash (a fresh
// process), and inputs the cores must reject.
// Every step runs on the TypeScript and the native core of the same process
// and World.exec compares commands, snapshots and trace records; after every
// step World.checkInvariants asserts the spec's invariants.
//
// HTMQC_FC_RUNS sets the number of sequences (default 1000), HTMQC_FC_SEED
// replays one seed.

import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { OUTCOME_FAILED, OUTCOME_SUCCEEDED, OffsetState, type Core, type PartitionSnapshot } from '../../src/core';
import { World, type WorldConfig } from './core/world';

type Cmd = fc.Command<World, World>;

const CONSUMERS = 2;
const PARTITIONS = 2;
const MAX_LOG = 40;

/** A step that needs something to pick: `pick` selects among the eligible choices. */
function choose<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

/** Every (consumer, partition) pair, in a fixed order. */
function pairs(w: World): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  w.procs.forEach((_, c) => { for (let p = 0; p < w.cfg.partitions; p++) out.push([c, p]); });
  return out;
}

function heldBy(w: World, c: number): PartitionSnapshot[] {
  return w.procs[c]!.ts.snapshot().partitions as PartitionSnapshot[];
}

// ------------------------------------------------------------ environment --

/** Spec Produce(p), n times. */
class Produce implements Cmd {
  constructor(readonly p: number, readonly n: number) {}
  check(w: World): boolean { return w.log[this.p]! < MAX_LOG; }
  run(w: World): void {
    w.log[this.p] = Math.min(MAX_LOG, w.log[this.p]! + this.n);
    w.history.push(this.toString());
  }
  toString(): string { return `Produce(p${this.p}, ${this.n})`; }
}

/** Spec Rebalance(p, c); c = -1 is NoConsumer. */
class Rebalance implements Cmd {
  constructor(readonly p: number, readonly c: number) {}
  check(w: World): boolean { return this.c !== -1 || w.owner[this.p] !== -1; }
  run(w: World): void {
    w.owner[this.p] = this.c;
    w.gen[this.p]!++;
    w.history.push(this.toString());
  }
  toString(): string { return `Rebalance(p${this.p}, ${this.c < 0 ? 'NoConsumer' : `c${this.c}`})`; }
}

/** Spec Crash(c) + Restart(c): a fresh process, built later from the ledger by Assign. */
class Crash implements Cmd {
  /** Only one generated Crash in `odds` happens, so that work gets done between crashes. */
  constructor(readonly c: number, readonly odds: number) {}
  check(): boolean { return this.odds === 0; }
  run(w: World): void {
    w.crash(this.c);
    w.history.push(this.toString());
    w.checkInvariants();
  }
  toString(): string { return `Crash(c${this.c})`; }
}

// --------------------------------------------------------------- consumer --

/** Spec Assign: the coordinator gave p to c; the ledger is fenced with a new epoch. */
class Assign implements Cmd {
  constructor(readonly pick: number) {}
  private target(w: World): [number, number] | undefined {
    return choose(pairs(w).filter(([c, p]) => w.owner[p] === c && w.procs[c]!.held(p) === undefined), this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [c, p] = this.target(w)!;
    const l = w.ledger[p]!;
    l.epoch++;
    l.writer = 0;
    const e = l.epoch;
    const next = l.next;
    const g = w.gen[p]!;
    w.exec(c, `Assigned(${p}, ${e}, ${next}, ${g})`, (core) => core.assigned(p, e, next, g));
    w.checkInvariants();
  }
  toString(): string { return `Assign(#${this.pick})`; }
}

/** Spec Revoke: c learns p is no longer its own in its generation. */
class Revoke implements Cmd {
  constructor(readonly pick: number) {}
  private target(w: World): [number, number] | undefined {
    return choose(pairs(w).filter(([c, p]) => {
      const ps = w.procs[c]!.held(p);
      return ps !== undefined && (w.owner[p] !== c || w.gen[p] !== ps.gen);
    }), this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [c, p] = this.target(w)!;
    w.exec(c, `Revoked(${p})`, (core) => core.revoked(p));
    w.checkInvariants();
  }
  toString(): string { return `Revoke(#${this.pick})`; }
}

/** Spec Fetch x count; count may exceed the window's room (the core accepts the room). */
class Fetch implements Cmd {
  constructor(readonly pick: number, readonly n: number) {}
  private target(w: World): [number, PartitionSnapshot] | undefined {
    const eligible: Array<[number, PartitionSnapshot]> = [];
    w.procs.forEach((_, c) => heldBy(w, c).forEach((ps) => { if (ps.pos < w.log[ps.p]!) eligible.push([c, ps]); }));
    return choose(eligible, this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [c, ps] = this.target(w)!;
    const count = Math.min(this.n, w.log[ps.p]! - ps.pos);
    w.exec(c, `Fetched(${ps.p}, ${ps.pos}, ${count})`, (core) => core.fetched(ps.p, ps.pos, count));
    w.checkInvariants();
  }
  toString(): string { return `Fetch(#${this.pick}, ${this.n})`; }
}

/**
 * Handler results (spec Succeed / Fail, with the DeadLetter and Begin they
 * cause), as one batch over the running heads of c's partitions, chaining to
 * the offsets each result starts.  asRange sends an all-succeeded single
 * partition batch through succeededRange; withInvalid appends a result the
 * cores must reject (the prefix stays applied).
 */
class Results implements Cmd {
  constructor(readonly pick: number, readonly outcomes: readonly boolean[], readonly asRange: boolean, readonly withInvalid: boolean) {}

  private consumer(w: World): number | undefined {
    return choose(w.procs.map((_, c) => c).filter((c) => this.plan(w, c).length > 0), this.pick);
  }

  private plan(w: World, c: number): Array<[number, number, boolean]> {
    const perPartition: Array<Array<[number, number, boolean]>> = [];
    let k = 0;
    for (const ps of heldBy(w, c)) {
      const mine: Array<[number, number, boolean]> = [];
      let i = ps.head;
      let first = true;
      while (k < this.outcomes.length && i < ps.win.length && ps.win[i]!.st === (first ? OffsetState.Processing : OffsetState.Pending)) {
        const ok = this.outcomes[k++]!;
        mine.push([ps.p, ps.base + i, ok]);
        const tries = (first ? ps.win[i]!.tries : 0) + (ok ? 0 : 1);
        if (!ok && tries <= w.cfg.maxRetries) break;
        i++;
        first = false;
      }
      if (mine.length > 0) perPartition.push(mine);
    }
    const out: Array<[number, number, boolean]> = [];
    for (let round = 0; perPartition.some((l) => round < l.length); round++) {
      for (const l of perPartition) if (round < l.length) out.push(l[round]!);
    }
    return out;
  }

  check(w: World): boolean { return this.consumer(w) !== undefined; }

  run(w: World): void {
    const c = this.consumer(w)!;
    const plan = this.plan(w, c);
    const single = plan.every(([p, , ok]) => ok && p === plan[0]![0]);
    if (this.asRange && single) {
      // withInvalid: the range runs one past the window, so its last offset is rejected.
      const p = plan[0]![0];
      const from = plan[0]![1];
      const to = this.withInvalid ? w.procs[c]!.held(p)!.pos + 1 : from + plan.length;
      w.exec(c, `succeededRange(${p}, ${from}, ${to})`, (core) => core.succeededRange(p, from, to));
    } else {
      if (this.withInvalid) {
        const [p, o] = plan[plan.length - 1]!;
        plan.push([p, o, true]);
      }
      const n = plan.length;
      const ps = Int32Array.from(plan.map(([p]) => p));
      const os = Float64Array.from(plan.map(([, o]) => o));
      const oc = Uint8Array.from(plan.map(([, , ok]) => (ok ? OUTCOME_SUCCEEDED : OUTCOME_FAILED)));
      const label = `handlerResults(${plan.map(([p, o, ok]) => `${ok ? 'Succeeded' : 'Failed'}(${p}, ${o})`).join(', ')})`;
      w.exec(c, label, (core) => core.handlerResults(ps, os, oc, n));
    }
    w.checkInvariants();
  }

  toString(): string {
    return `Results(#${this.pick}, [${this.outcomes.map((o) => (o ? 'ok' : 'fail')).join(',')}]${this.asRange ? ', range' : ''}${this.withInvalid ? ', +invalid' : ''})`;
  }
}

/** Tick(now): spec Retry of every due failed head. */
class Tick implements Cmd {
  constructor(readonly c: number, readonly dt: number) {}
  check(): boolean { return true; }
  run(w: World): void {
    const proc = w.procs[this.c]!;
    proc.now += this.dt;
    const now = proc.now;
    w.exec(this.c, `Tick(${now})`, (core) => core.tick(now));
    w.checkInvariants();
  }
  toString(): string { return `Tick(c${this.c}, +${this.dt})`; }
}

/**
 * The ledger answers a WriteLedger: spec Commit when CommitAccepted holds,
 * else CommitRejected.  crashBeforeAck kills the process after the ledger
 * committed and before the core learns it.
 */
class LedgerAnswer implements Cmd {
  constructor(readonly pick: number, readonly crashBeforeAck: boolean) {}
  private target(w: World): [number, number] | undefined {
    return choose(pairs(w).filter(([c, p]) => w.procs[c]!.writes.has(p) && !w.procs[c]!.lost.has(p)), this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [c, p] = this.target(w)!;
    const upTo = w.procs[c]!.writes.get(p)!.upTo;
    const verdict = w.ledgerCommit(c, p);
    if (verdict === 'accepted' && this.crashBeforeAck) {
      w.history.push(`ledger committed p${p} up to ${upTo}; c${c} crashes before the answer`);
      w.crash(c);
    } else if (verdict === 'accepted') {
      w.exec(c, `LedgerCommitted(${p}, ${upTo})`, (core) => core.ledgerCommitted(p, upTo));
    } else {
      w.exec(c, `LedgerRejected(${p})`, (core) => core.ledgerRejected(p));
    }
    w.checkInvariants();
  }
  toString(): string { return `LedgerAnswer(#${this.pick}${this.crashBeforeAck ? ', crash before ack' : ''})`; }
}

/**
 * Spec LoseAnswer: the connection of c's write for p drops.  The runtime
 * settles the write before it reads the row: it applied (ApplyWrite, if the
 * ledger accepts it) or it is aborted (AbortWrite); the read comes later
 * (Recover), after whatever else happens in between.
 */
class LoseAnswer implements Cmd {
  constructor(readonly pick: number, readonly applied: boolean) {}
  private target(w: World): [number, number] | undefined {
    return choose(pairs(w).filter(([c, p]) => w.procs[c]!.writes.has(p) && !w.procs[c]!.lost.has(p)), this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [c, p] = this.target(w)!;
    const verdict = this.applied ? w.ledgerApply(c, p) : 'aborted';
    w.history.push(`the answer of c${c}'s write for p${p} is lost; the write is ${verdict}`);
    w.exec(c, `LedgerUnknown(${p})`, (core) => core.ledgerUnknown(p));
    w.checkInvariants();
  }
  toString(): string { return `LoseAnswer(#${this.pick}, ${this.applied ? 'applied' : 'aborted'})`; }
}

/**
 * Spec Rebalance(p, c') then Assign(c', p) while c waits for the row of p: the
 * race that makes c's Recover decide Rejected.
 */
class FenceLost implements Cmd {
  constructor(readonly pick: number) {}
  private target(w: World): [number, number, number] | undefined {
    const out: Array<[number, number, number]> = [];
    for (const [c, p] of pairs(w)) {
      if (!w.procs[c]!.lost.has(p)) continue;
      w.procs.forEach((proc, other) => { if (other !== c && proc.held(p) === undefined) out.push([c, p, other]); });
    }
    return choose(out, this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [, p, other] = this.target(w)!;
    new Rebalance(p, other).run(w);
    const l = w.ledger[p]!;
    l.epoch++;
    l.writer = 0;
    const e = l.epoch;
    const next = l.next;
    const g = w.gen[p]!;
    w.exec(other, `Assigned(${p}, ${e}, ${next}, ${g})`, (core) => core.assigned(p, e, next, g));
    w.checkInvariants();
  }
  toString(): string { return `FenceLost(#${this.pick})`; }
}

/** How often each RecoverDecision was taken over all sequences (the property checks all three occur). */
const decisionsSeen = new Map<string, number>();

/** Spec Recover: c reads the row of p (its write settled) and decides as RecoverDecision. */
class Recover implements Cmd {
  constructor(readonly pick: number) {}
  private target(w: World): [number, number] | undefined {
    return choose(pairs(w).filter(([c, p]) => w.procs[c]!.lost.has(p)), this.pick);
  }
  check(w: World): boolean { return this.target(w) !== undefined; }
  run(w: World): void {
    const [c, p] = this.target(w)!;
    const proc = w.procs[c]!;
    const before = proc.held(p)!;
    const { epoch, next } = w.ledger[p]!;
    const decision = epoch !== before.epoch ? 'Rejected' : next === before.writeUpTo ? 'Committed' : 'NoAnswer';
    // The lost write is settled: what follows is the decision's, or a new write.
    proc.writes.delete(p);
    proc.lost.delete(p);
    w.exec(c, `LedgerRead(${p}, ${epoch}, ${next}) (${decision})`, (core) => core.ledgerRead(p, epoch, next));
    decisionsSeen.set(decision, (decisionsSeen.get(decision) ?? 0) + 1);
    const after = proc.held(p);
    if (decision === 'Rejected') assert.equal(after, undefined, `Recover decided Rejected but c${c} still holds p${p}`);
    else assert.equal(after?.base, decision === 'Committed' ? before.writeUpTo : before.base, `Recover decided ${decision}: base`);
    w.checkInvariants();
  }
  toString(): string { return `Recover(#${this.pick})`; }
}

/** An input the current state forbids: both cores must reject it alike and change nothing. */
class Invalid implements Cmd {
  constructor(readonly c: number, readonly kind: number, readonly x: number) {}

  private input(w: World): [string, (core: Core) => { toArray(): unknown[] }] | undefined {
    const proc = w.procs[this.c]!;
    const snap = proc.ts.snapshot();
    const held = snap.partitions;
    const unheld = [0, 1, 2].filter((p) => !held.some((ps) => ps.p === p));
    const ps = choose(held, this.x);
    const x = this.x;
    switch (this.kind) {
      case 0: {
        const p = choose(unheld, x)!;
        return [`Revoked(${p})`, (core) => core.revoked(p)];
      }
      case 1: {
        const fence = snap.fences.find(([p]) => unheld.includes(p));
        if (fence === undefined) return undefined;
        const e = (x % fence[1]) + 1;
        return [`Assigned(${fence[0]}, ${e}, 0, 0) (stale)`, (core) => core.assigned(fence[0], e, 0, 0)];
      }
      case 2:
        if (ps === undefined) return undefined;
        return [`Assigned(${ps.p}, 1000, 0, 0) (held)`, (core) => core.assigned(ps.p, 1000, 0, 0)];
      case 3:
        if (ps === undefined) return undefined;
        return [`Fetched(${ps.p}, ${ps.pos + 1 + x}, 1)`, (core) => core.fetched(ps.p, ps.pos + 1 + x, 1)];
      case 4: {
        if (ps === undefined) return undefined;
        const o = ps.base + (x % (ps.win.length + 2));
        if (o === ps.base + ps.head && ps.win[ps.head]?.st === OffsetState.Processing) return undefined;
        return [`HandlerSucceeded(${ps.p}, ${o}) (not running)`, (core) => core.handlerSucceeded(ps.p, o)];
      }
      case 5:
        if (ps === undefined) return undefined;
        if (ps.writeUpTo === 0) return [`LedgerCommitted(${ps.p}, ${x}) (no write)`, (core) => core.ledgerCommitted(ps.p, x)];
        return [`LedgerCommitted(${ps.p}, ${ps.writeUpTo + 1 + x}) (mismatch)`, (core) => core.ledgerCommitted(ps.p, ps.writeUpTo + 1 + x)];
      case 6:
        if (ps === undefined || ps.writeUpTo !== 0) return undefined;
        return [`LedgerRejected(${ps.p}) (no write)`, (core) => core.ledgerRejected(ps.p)];
      case 7:
        if (proc.now === 0) return undefined;
        return [`Tick(${proc.now - 1 - (x % proc.now)}) (backwards)`, (core) => core.tick(proc.now - 1 - (x % proc.now))];
      case 8:
        if (ps === undefined || (ps.writeUpTo !== 0 && ps.answer !== 'Unknown')) return undefined;
        return [`LedgerUnknown(${ps.p}) (${ps.writeUpTo === 0 ? 'no write' : 'again'})`, (core) => core.ledgerUnknown(ps.p)];
      case 9:
        if (ps === undefined) return undefined;
        if (ps.answer !== 'Unknown') return [`LedgerRead(${ps.p}, ${ps.epoch}, ${ps.base}) (no lost answer)`, (core) => core.ledgerRead(ps.p, ps.epoch, ps.base)];
        if (x % 2 === 0) return [`LedgerCommitted(${ps.p}, ${ps.writeUpTo}) (answer lost)`, (core) => core.ledgerCommitted(ps.p, ps.writeUpTo)];
        return [`LedgerRejected(${ps.p}) (answer lost)`, (core) => core.ledgerRejected(ps.p)];
      case 10: {
        if (ps === undefined || ps.answer !== 'Unknown') return undefined;
        if (x % 2 === 0) return [`LedgerRead(${ps.p}, ${ps.epoch - 1}, ${ps.base}) (row epoch below the held one)`, (core) => core.ledgerRead(ps.p, ps.epoch - 1, ps.base)];
        const next = ps.writeUpTo + 1 + (x % 3);
        return [`LedgerRead(${ps.p}, ${ps.epoch}, ${next}) (row next neither base nor writeUpTo)`, (core) => core.ledgerRead(ps.p, ps.epoch, next)];
      }
      default: {
        const bad = [-1, 1.5, 16, Number.NaN][x % 4]!;
        return [`Revoked(${bad}) (bad argument)`, (core) => core.revoked(bad)];
      }
    }
  }

  check(w: World): boolean { return this.input(w) !== undefined; }

  run(w: World): void {
    const [label, call] = this.input(w)!;
    const before = w.procs[this.c]!.ts.snapshot();
    const result = w.exec(this.c, label, call as (core: Core) => { toArray(): never[] });
    if (result.error === undefined) throw new Error(`${label} was accepted; the cores must reject it`);
    const after = w.procs[this.c]!.ts.snapshot();
    if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`${label} was rejected but changed the state`);
    w.checkInvariants();
  }

  toString(): string { return `Invalid(c${this.c}, kind ${this.kind}, ${this.x})`; }
}

// --------------------------------------------------------------- property --

const c = fc.integer({ min: 0, max: CONSUMERS - 1 });
const p = fc.integer({ min: 0, max: PARTITIONS - 1 });
const pick = fc.nat(7);

/** Each step arbitrary is listed `weight` times: fc.commands picks uniformly among entries. */
function weighted(entries: Array<[number, fc.Arbitrary<Cmd>]>): fc.Arbitrary<Cmd>[] {
  return entries.flatMap(([weight, arb]) => new Array<fc.Arbitrary<Cmd>>(weight).fill(arb));
}

const commands = fc.commands<World, World>(weighted([
  [3, fc.tuple(p, fc.integer({ min: 1, max: 8 })).map(([pp, n]) => new Produce(pp, n))],
  [1, fc.tuple(p, fc.integer({ min: -1, max: CONSUMERS - 1 })).map(([pp, cc]) => new Rebalance(pp, cc))],
  [4, pick.map((k) => new Assign(k))],
  [3, pick.map((k) => new Revoke(k))],
  [6, fc.tuple(pick, fc.integer({ min: 1, max: 6 })).map(([k, n]) => new Fetch(k, n))],
  [8, fc.tuple(pick, fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean())
    .map(([k, outs, asRange, bad]) => new Results(k, outs, asRange, bad))],
  [4, fc.tuple(pick, fc.array(fc.constant(true), { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([k, outs, asRange]) => new Results(k, outs, asRange, false))],
  [2, fc.tuple(c, fc.integer({ min: 0, max: 6 })).map(([cc, dt]) => new Tick(cc, dt))],
  [6, fc.tuple(pick, fc.nat(5)).map(([k, crash]) => new LedgerAnswer(k, crash === 0))],
  [3, fc.tuple(pick, fc.boolean()).map(([k, applied]) => new LoseAnswer(k, applied))],
  [4, pick.map((k) => new Recover(k))],
  [1, pick.map((k) => new FenceLost(k))],
  [1, fc.tuple(c, fc.nat(2)).map(([cc, odds]) => new Crash(cc, odds))],
  [3, fc.tuple(c, fc.integer({ min: 0, max: 11 }), fc.nat(20)).map(([cc, kind, x]) => new Invalid(cc, kind, x))],
]), { maxCommands: 120, size: 'max' });

const config: fc.Arbitrary<WorldConfig> = fc.record({
  consumers: fc.constant(CONSUMERS),
  partitions: fc.constant(PARTITIONS),
  window: fc.integer({ min: 1, max: 4 }),
  maxRetries: fc.integer({ min: 0, max: 2 }),
  backoff: fc.integer({ min: 0, max: 5 }),
  maxLog: fc.constant(MAX_LOG),
});

describe('DCSM cores: model-based equivalence (spec/DCSM.tla, every consumer action, Crash and Rebalance)', function () {
  this.timeout(600_000);

  it('TypeScript and native cores agree on commands, snapshots and traces, and keep NoDuplicateInv/NoGapInv/OffsetOrderInv/FencingInv/WindowShapeInv, lost answers included', () => {
    const numRuns = Number(process.env['HTMQC_FC_RUNS'] ?? 1000);
    const seed = process.env['HTMQC_FC_SEED'];
    fc.assert(
      fc.property(config, commands, (cfg, cmds) => {
        const world = new World(cfg);
        // Start from one Rebalance per partition, so that most sequences hold something.
        for (let pp = 0; pp < cfg.partitions; pp++) new Rebalance(pp, pp % cfg.consumers).run(world);
        try {
          fc.modelRun(() => ({ model: world, real: world }), cmds);
        } catch (e) {
          const steps = world.history.slice(-12).map((h) => `    ${h}`).join('\n');
          throw new Error(`${(e as Error).message}\n  last core inputs:\n${steps}`);
        }
      }),
      { numRuns, ...(seed === undefined ? {} : { seed: Number(seed) }) },
    );
    if (seed === undefined && numRuns >= 200) {
      for (const d of ['Committed', 'NoAnswer', 'Rejected']) {
        assert.ok((decisionsSeen.get(d) ?? 0) > 0, `no sequence reached a Recover that decided ${d}: ${JSON.stringify([...decisionsSeen])}`);
      }
    }
  });
});
