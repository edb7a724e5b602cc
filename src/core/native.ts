// The native DCSM (native/, loaded by node-gyp-build: a local build, else the prebuild)
// behind the Core interface.  Arguments are validated here before crossing
// into C++; the addon checks again and throws the classes of errors.ts.
//
// Buffers: commands are written by C++ into this.commands (a Float64Array the
// facade owns and grows before any call whose worst case would not fit), trace
// records into this.traceBuffer on drainTrace().  Neither allocates per message.

import * as path from 'path';
import { CommandBatch, COMMAND_STRIDE, decodeCommand } from './commands';
import { DcsmError, ERROR_CLASSES, NativeCoreError } from './errors';
import { checkRange, checkResultArrays, dispatch, type Core, type CreateCoreOptions } from './facade';
import { decodeTraceRecord, TRACE_STRIDE, type TraceSink } from './trace';
import { Answer, type Command, type CoreSnapshot, type Input, type PartitionSnapshot, type SlotSnapshot } from './types';
import { checkAssigned, checkFetched, checkLedgerRead, checkNow, checkOffset, checkPartition, normaliseConfig } from './validate';

/** The addon's class (native/src/addon.cc); every input method returns the command count. */
interface NativeDcsmHandle {
  assigned(p: number, epoch: number, ledgerNext: number, gen: number): number;
  revoked(p: number): number;
  fetched(p: number, base: number, count: number): number;
  handlerSucceeded(p: number, o: number): number;
  handlerFailed(p: number, o: number): number;
  handlerResults(partitions: Int32Array, offsets: Float64Array, outcomes: Uint8Array, count: number): number;
  succeededRange(p: number, from: number, to: number): number;
  ledgerCommitted(p: number, next: number): number;
  ledgerRejected(p: number): number;
  ledgerUnknown(p: number): number;
  ledgerRead(p: number, epoch: number, next: number): number;
  tick(now: number): number;
  setCommandBuffer(buffer: Float64Array): void;
  drainTrace(): number;
  traceLost(): number;
  snapshot(): Float64Array;
}

interface NativeAddon {
  NativeDcsm: new (
    config: { window: number; maxRetries: number; retryBackoff: number; maxPartitions: number; traceCapacity: number },
    errorClasses: readonly unknown[],
    commandBuffer: Float64Array,
    traceBuffer?: Float64Array,
  ) => NativeDcsmHandle;
}

/** The package root: dist/src/core/native.js is three folders below it. */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The addon node-gyp-build selects under the package root: a local build
 * (build/Release/htmqc_native.node) first, else the prebuild for this
 * platform, architecture and libc (prebuilds/linux-x64/htmqc.glibc.node in
 * the npm package).  HTMQC_NATIVE_ADDON overrides both.  Throws when neither
 * exists.
 */
export function nativeAddonPath(): string {
  const override = process.env['HTMQC_NATIVE_ADDON'];
  if (override !== undefined && override !== '') return override;
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  return nodeGypBuild.path(PACKAGE_ROOT);
}

let addon: NativeAddon | undefined;

export function loadNativeAddon(): NativeAddon {
  if (addon === undefined) {
    let file = `${PACKAGE_ROOT}/{build/Release,prebuilds/${process.platform}-${process.arch}}`;
    try {
      file = nativeAddonPath();
      addon = require(file) as NativeAddon;
    } catch (cause) {
      throw new NativeCoreError(
        `cannot load the native core from ${file}: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)} ` +
        `(build it with node-gyp rebuild --nodedir=/usr, or use the TypeScript core: HTMQC_CORE=ts)`, { cause });
    }
  }
  return addon;
}

/** Whether the native core loads here; the reason when it does not. */
export function nativeAddonStatus(): { readonly available: true } | { readonly available: false; readonly reason: string } {
  try {
    loadNativeAddon();
    return { available: true };
  } catch (e) {
    return { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

export const DEFAULT_TRACE_CAPACITY = 1 << 16;

export class NativeCore implements Core {
  readonly kind = 'native' as const;
  readonly tracing: boolean;
  private readonly handle: NativeDcsmHandle;
  private readonly maxPartitions: number;
  private readonly batch: CommandBatch;
  private readonly traceBuffer: Float64Array;

  constructor(options: CreateCoreOptions) {
    const config = normaliseConfig(options);
    this.maxPartitions = config.maxPartitions;
    this.tracing = options.tracing === true;
    const traceCapacity = this.tracing ? options.traceCapacity ?? DEFAULT_TRACE_CAPACITY : 0;
    this.traceBuffer = new Float64Array(traceCapacity * TRACE_STRIDE);
    // Room for the worst single-input call: a Tick retrying every partition.
    this.batch = new CommandBatch(new Float64Array(Math.max(4096, config.maxPartitions + 8) * COMMAND_STRIDE), 0);
    const { NativeDcsm } = loadNativeAddon();
    this.handle = new NativeDcsm(
      {
        window: config.maxInFlightPerPartition, maxRetries: config.maxRetries, retryBackoff: config.retryBackoffMs,
        maxPartitions: config.maxPartitions, traceCapacity,
      },
      ERROR_CLASSES, this.batch.data, this.traceBuffer,
    );
  }

  assigned(p: number, epoch: number, ledgerNext: number, gen: number): CommandBatch {
    checkAssigned(p, epoch, ledgerNext, gen, this.maxPartitions);
    return this.done(this.call(() => this.handle.assigned(p, epoch, ledgerNext, gen)));
  }

  revoked(p: number): CommandBatch {
    checkPartition(p, this.maxPartitions);
    return this.done(this.call(() => this.handle.revoked(p)));
  }

  fetched(p: number, base: number, count: number): CommandBatch {
    checkFetched(p, base, count, this.maxPartitions);
    return this.done(this.call(() => this.handle.fetched(p, base, count)));
  }

  handlerSucceeded(p: number, o: number): CommandBatch {
    checkOffset('o', p, o, this.maxPartitions);
    return this.done(this.call(() => this.handle.handlerSucceeded(p, o)));
  }

  handlerFailed(p: number, o: number): CommandBatch {
    checkOffset('o', p, o, this.maxPartitions);
    return this.done(this.call(() => this.handle.handlerFailed(p, o)));
  }

  handlerResults(partitions: Int32Array, offsets: Float64Array, outcomes: Uint8Array, count?: number): CommandBatch {
    const n = checkResultArrays(partitions, offsets, outcomes, count);
    this.ensureCommandRoom(3 * n + 4);
    return this.done(this.call(() => this.handle.handlerResults(partitions, offsets, outcomes, n)));
  }

  succeededRange(p: number, from: number, to: number): CommandBatch {
    checkPartition(p, this.maxPartitions);
    checkRange(from, to);
    this.ensureCommandRoom(to - from + 4);
    return this.done(this.call(() => this.handle.succeededRange(p, from, to)));
  }

  ledgerCommitted(p: number, next: number): CommandBatch {
    checkOffset('next', p, next, this.maxPartitions);
    return this.done(this.call(() => this.handle.ledgerCommitted(p, next)));
  }

  ledgerRejected(p: number): CommandBatch {
    checkPartition(p, this.maxPartitions);
    return this.done(this.call(() => this.handle.ledgerRejected(p)));
  }

  ledgerUnknown(p: number): CommandBatch {
    checkPartition(p, this.maxPartitions);
    return this.done(this.call(() => this.handle.ledgerUnknown(p)));
  }

  ledgerRead(p: number, epoch: number, next: number): CommandBatch {
    checkLedgerRead(p, epoch, next, this.maxPartitions);
    return this.done(this.call(() => this.handle.ledgerRead(p, epoch, next)));
  }

  tick(now: number): CommandBatch {
    checkNow(now);
    return this.done(this.call(() => this.handle.tick(now)));
  }

  step(input: Input): CommandBatch { return dispatch(this, input); }

  snapshot(): CoreSnapshot { return decodeSnapshot(this.handle.snapshot()); }

  drainTrace(sink: TraceSink): number {
    const n = this.drainTraceBinary();
    for (let i = 0; i < n; i++) sink(decodeTraceRecord(this.traceBuffer, i));
    return n;
  }

  /**
   * Moves the pending binary records into traceRecords (one call, no
   * decoding); returns how many.  Valid until the next drain.
   */
  drainTraceBinary(): number { return this.tracing ? this.handle.drainTrace() : 0; }

  /** The binary records of the last drainTraceBinary, layout in trace-check/SCHEMA.md. */
  get traceRecords(): Float64Array { return this.traceBuffer; }

  traceLost(): number { return this.handle.traceLost(); }

  // ------------------------------------------------------------ helpers --

  private call(fn: () => number): number {
    try {
      return fn();
    } catch (e) {
      if (e instanceof DcsmError) {
        const withCount = e as DcsmError & { commandCount?: number };
        const commands: Command[] = [];
        for (let i = 0; i < (withCount.commandCount ?? 0); i++) commands.push(decodeCommand(this.batch.data, i));
        e.commands = commands;
        delete withCount.commandCount;
      }
      throw e;
    }
  }

  private done(count: number): CommandBatch {
    this.batch.count = count;
    return this.batch;
  }

  private ensureCommandRoom(commands: number): void {
    if (this.batch.data.length >= commands * COMMAND_STRIDE) return;
    const capacity = Math.max(commands, (2 * this.batch.data.length) / COMMAND_STRIDE);
    this.batch.data = new Float64Array(capacity * COMMAND_STRIDE);
    this.handle.setCommandBuffer(this.batch.data);
  }
}

/** Decodes Dcsm::snapshot's layout (native/src/core/dcsm.cc). */
export function decodeSnapshot(d: Float64Array): CoreSnapshot {
  let at = 0;
  const next = (): number => d[at++]!;
  const now = next();
  const seq = next();
  const nFences = next();
  const nHeld = next();
  const fences: (readonly [number, number])[] = [];
  for (let i = 0; i < nFences; i++) fences.push([next(), next()] as const);
  const partitions: PartitionSnapshot[] = [];
  for (let i = 0; i < nHeld; i++) {
    const p = next(); const epoch = next(); const gen = next(); const base = next(); const len = next();
    const head = next(); const paused = next() === 1; const writeUpTo = next();
    const answer = next() === Answer.Unknown ? 'Unknown' : 'NoAnswer';
    const retryDueAt = next();
    const win: SlotSnapshot[] = [];
    for (let j = 0; j < len; j++) win.push({ st: next(), tries: next() });
    partitions.push({ p, epoch, gen, base, pos: base + len, head, paused, writeUpTo, answer, retryDueAt, win });
  }
  return { now, seq, partitions, fences };
}
