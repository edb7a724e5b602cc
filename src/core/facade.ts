// One interface over both DCSM cores.  createCore({ kind }) picks the
// TypeScript reference or the native core (default: HTMQC_CORE, else native
// where its addon loads, else ts with a warning).
//
// Contracts shared by both:
//  - every method validates its arguments (InvalidArgumentError) before any
//    state changes or C++ is entered; state-dependent rejections are the
//    InvalidInputError subclasses, and a rejected input changes nothing;
//  - every method returns the commands it produced as a CommandBatch that
//    stays valid until the next call on the same core;
//  - handlerResults / succeededRange are one Ready cycle over many inputs; if
//    input i is rejected, inputs before it stay applied and the error carries
//    applied = i and their commands;
//  - with tracing on, trace records accumulate until drainTrace delivers them.

import { CommandBatch, COMMAND_STRIDE, packCommands } from './commands';
import { DcsmError, InvalidArgumentError } from './errors';
import { initialState, snapshot, stepBatch, type DcsmState } from './machine';
import type { TraceRecord, TraceSink } from './trace';
import { Inputs, type Command, type CoreConfig, type CoreSnapshot, type Input } from './types';
import { checkInteger, checkPartition, MAX_OFFSET } from './validate';

export type CoreKind = 'ts' | 'native';

export interface CreateCoreOptions extends CoreConfig {
  /** Which implementation; default HTMQC_CORE (ts|native), else native where it loads, else ts. */
  readonly kind?: CoreKind;
  /** Record one trace record per transition (default false: costs nothing). */
  readonly tracing?: boolean;
  /** Native only: trace ring capacity in records (default 65536). */
  readonly traceCapacity?: number;
}

/** Handler outcomes in handlerResults' outcomes array. */
export const OUTCOME_FAILED = 0;
export const OUTCOME_SUCCEEDED = 1;

export interface Core {
  readonly kind: CoreKind;
  readonly tracing: boolean;
  assigned(p: number, epoch: number, ledgerNext: number, gen: number): CommandBatch;
  revoked(p: number): CommandBatch;
  fetched(p: number, base: number, count: number): CommandBatch;
  handlerSucceeded(p: number, o: number): CommandBatch;
  handlerFailed(p: number, o: number): CommandBatch;
  /** Results i < count: HandlerSucceeded(partitions[i], offsets[i]) if outcomes[i] = 1, else HandlerFailed. */
  handlerResults(partitions: Int32Array, offsets: Float64Array, outcomes: Uint8Array, count?: number): CommandBatch;
  /** Same as HandlerSucceeded(p, o) for every o in [from, to), in order, as one call. */
  succeededRange(p: number, from: number, to: number): CommandBatch;
  ledgerCommitted(p: number, next: number): CommandBatch;
  ledgerRejected(p: number): CommandBatch;
  /** The write in flight's answer was lost (spec LoseAnswer); answers ReadLedger(p, epoch). */
  ledgerUnknown(p: number): CommandBatch;
  /** The row of p read after the lost write settled (spec Recover): its epoch and next. */
  ledgerRead(p: number, epoch: number, next: number): CommandBatch;
  tick(now: number): CommandBatch;
  /** Dispatches one Input to the method above. */
  step(input: Input): CommandBatch;
  snapshot(): CoreSnapshot;
  /** Delivers the pending trace records in order; returns how many. */
  drainTrace(sink: TraceSink): number;
  /** Records dropped because the trace ring was full (always 0 for ts). */
  traceLost(): number;
}

export function createCore(options: CreateCoreOptions): Core {
  const kind = options.kind ?? defaultKind();
  if (kind === 'ts') return new TsCore(options);
  if (kind === 'native') {
    // Loaded lazily so that the ts core works where the addon is not built.
    const { NativeCore } = require('./native') as typeof import('./native');
    return new NativeCore(options);
  }
  throw new InvalidArgumentError(`kind must be 'ts' or 'native', got ${String(kind)}`);
}

/**
 * HTMQC_CORE chooses; unset, the native core where its addon loads, else the
 * TypeScript core (the same state machine, the conformance suite's oracle)
 * with one process warning naming why.  An explicit 'native' never falls back.
 */
function defaultKind(): CoreKind {
  const env = process.env['HTMQC_CORE'];
  if (env === 'native') return 'native';
  if (env === 'ts') return 'ts';
  if (env !== undefined && env !== '') throw new InvalidArgumentError(`HTMQC_CORE must be 'ts' or 'native', got ${env}`);
  const { nativeAddonStatus } = require('./native') as typeof import('./native');
  const status = nativeAddonStatus();
  if (status.available) return 'native';
  if (!fallbackWarned) {
    fallbackWarned = true;
    process.emitWarning(`${status.reason}; using the TypeScript core instead (HTMQC_CORE=ts selects it without this warning)`,
      { code: NO_NATIVE_CORE_WARNING });
  }
  return 'ts';
}

/** The warning code of the fallback to the TypeScript core. */
export const NO_NATIVE_CORE_WARNING = 'HTMQC_NO_NATIVE_CORE';
let fallbackWarned = false;

/** Dispatch shared by both cores. */
export function dispatch(core: Core, input: Input): CommandBatch {
  switch (input.kind) {
    case 'Assigned': return core.assigned(input.p, input.epoch, input.ledgerNext, input.gen);
    case 'Revoked': return core.revoked(input.p);
    case 'Fetched': return core.fetched(input.p, input.base, input.count);
    case 'HandlerSucceeded': return core.handlerSucceeded(input.p, input.o);
    case 'HandlerFailed': return core.handlerFailed(input.p, input.o);
    case 'LedgerCommitted': return core.ledgerCommitted(input.p, input.next);
    case 'LedgerRejected': return core.ledgerRejected(input.p);
    case 'LedgerUnknown': return core.ledgerUnknown(input.p);
    case 'LedgerRead': return core.ledgerRead(input.p, input.epoch, input.next);
    case 'Tick': return core.tick(input.now);
    default: throw new InvalidArgumentError(`unknown input kind ${String((input as { kind: unknown }).kind)}`);
  }
}

/** Checks a handlerResults batch's arrays; returns the count to use. */
export function checkResultArrays(partitions: Int32Array, offsets: Float64Array, outcomes: Uint8Array, count?: number): number {
  if (!(partitions instanceof Int32Array)) throw new InvalidArgumentError('partitions must be an Int32Array');
  if (!(offsets instanceof Float64Array)) throw new InvalidArgumentError('offsets must be a Float64Array');
  if (!(outcomes instanceof Uint8Array)) throw new InvalidArgumentError('outcomes must be a Uint8Array');
  const n = count ?? partitions.length;
  checkInteger('count', n, 0, Math.min(partitions.length, offsets.length, outcomes.length));
  return n;
}

export function checkRange(from: number, to: number): void {
  checkInteger('from', from, 0, MAX_OFFSET);
  checkInteger('to', to, from, MAX_OFFSET);
}

/** The TypeScript reference core behind the Core interface. */
export class TsCore implements Core {
  readonly kind = 'ts' as const;
  readonly tracing: boolean;
  private readonly state: DcsmState;
  private readonly pending: TraceRecord[] = [];
  private readonly sink: TraceSink | undefined;
  private readonly batch = new CommandBatch(new Float64Array(64 * COMMAND_STRIDE), 0);

  constructor(options: CreateCoreOptions) {
    this.state = initialState(options);
    this.tracing = options.tracing === true;
    this.sink = this.tracing ? (r) => { this.pending.push(r); } : undefined;
  }

  assigned(p: number, epoch: number, ledgerNext: number, gen: number): CommandBatch { return this.run([Inputs.Assigned(p, epoch, ledgerNext, gen)]); }
  revoked(p: number): CommandBatch { return this.run([Inputs.Revoked(p)]); }
  fetched(p: number, base: number, count: number): CommandBatch { return this.run([Inputs.Fetched(p, base, count)]); }
  handlerSucceeded(p: number, o: number): CommandBatch { return this.run([Inputs.HandlerSucceeded(p, o)]); }
  handlerFailed(p: number, o: number): CommandBatch { return this.run([Inputs.HandlerFailed(p, o)]); }
  ledgerCommitted(p: number, next: number): CommandBatch { return this.run([Inputs.LedgerCommitted(p, next)]); }
  ledgerRejected(p: number): CommandBatch { return this.run([Inputs.LedgerRejected(p)]); }
  ledgerUnknown(p: number): CommandBatch { return this.run([Inputs.LedgerUnknown(p)]); }
  ledgerRead(p: number, epoch: number, next: number): CommandBatch { return this.run([Inputs.LedgerRead(p, epoch, next)]); }
  tick(now: number): CommandBatch { return this.run([Inputs.Tick(now)]); }
  step(input: Input): CommandBatch { return dispatch(this, input); }

  handlerResults(partitions: Int32Array, offsets: Float64Array, outcomes: Uint8Array, count?: number): CommandBatch {
    const n = checkResultArrays(partitions, offsets, outcomes, count);
    const inputs: Input[] = [];
    for (let i = 0; i < n; i++) {
      inputs.push(outcomes[i] === OUTCOME_FAILED
        ? Inputs.HandlerFailed(partitions[i]!, offsets[i]!)
        : Inputs.HandlerSucceeded(partitions[i]!, offsets[i]!));
    }
    return this.run(inputs);
  }

  succeededRange(p: number, from: number, to: number): CommandBatch {
    checkPartition(p, this.state.config.maxPartitions);
    checkRange(from, to);
    const inputs: Input[] = [];
    for (let o = from; o < to; o++) inputs.push(Inputs.HandlerSucceeded(p, o));
    return this.run(inputs);
  }

  snapshot(): CoreSnapshot { return snapshot(this.state); }

  drainTrace(sink: TraceSink): number {
    const records = this.pending.splice(0, this.pending.length);
    for (const r of records) sink(r);
    return records.length;
  }

  traceLost(): number { return 0; }

  private run(inputs: readonly Input[]): CommandBatch {
    try {
      const { commands } = stepBatch(this.state, inputs, this.sink);
      this.pack(commands);
    } catch (e) {
      if (e instanceof DcsmError) this.pack(e.commands);
      throw e;
    }
    return this.batch;
  }

  private pack(commands: readonly Command[]): void {
    if (this.batch.data.length < commands.length * COMMAND_STRIDE) {
      this.batch.data = new Float64Array(Math.max(commands.length, 2 * this.batch.data.length / COMMAND_STRIDE) * COMMAND_STRIDE);
    }
    packCommands(commands, this.batch.data);
    this.batch.count = commands.length;
  }
}
