// Argument validation: the shape of inputs and config, independent of state.
// Both cores run it (the facade before crossing into C++, which then checks
// again and never trusts JS); state-dependent checks live in the cores.

import { InvalidArgumentError } from './errors';
import { DEFAULT_MAX_PARTITIONS, MAX_RETRIES_LIMIT, MAX_WINDOW, type CoreConfig, type Input } from './types';

/** Offsets and times are integers in [0, 2^53 - 1] (exact in a double and an int64). */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;
/** Epochs, generations and counts fit a 32-bit trace field. */
export const MAX_SMALL = 0x7fffffff;

export function checkInteger(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

export function normaliseConfig(config: CoreConfig): Required<CoreConfig> {
  if (config === null || typeof config !== 'object') throw new InvalidArgumentError('config must be an object');
  return {
    maxInFlightPerPartition: checkInteger('maxInFlightPerPartition', config.maxInFlightPerPartition, 1, MAX_WINDOW),
    maxRetries: checkInteger('maxRetries', config.maxRetries, 0, MAX_RETRIES_LIMIT),
    retryBackoffMs: checkInteger('retryBackoffMs', config.retryBackoffMs, 0, MAX_SMALL),
    maxPartitions: checkInteger('maxPartitions', config.maxPartitions ?? DEFAULT_MAX_PARTITIONS, 1, 1 << 20),
  };
}

// One check per input kind, in field order; the native facade calls them
// directly (no Input object on the hot path).

export function checkPartition(p: number, maxPartitions: number): void { checkInteger('p', p, 0, maxPartitions - 1); }

export function checkAssigned(p: number, epoch: number, ledgerNext: number, gen: number, maxPartitions: number): void {
  checkPartition(p, maxPartitions);
  checkInteger('epoch', epoch, 1, MAX_SMALL);
  checkInteger('ledgerNext', ledgerNext, 0, MAX_OFFSET);
  checkInteger('gen', gen, 0, MAX_SMALL);
}

export function checkFetched(p: number, base: number, count: number, maxPartitions: number): void {
  checkPartition(p, maxPartitions);
  checkInteger('base', base, 0, MAX_OFFSET);
  checkInteger('count', count, 1, MAX_SMALL);
  if (base + count > MAX_OFFSET) throw new InvalidArgumentError('base + count exceeds 2^53 - 1');
}

export function checkOffset(name: string, p: number, o: number, maxPartitions: number): void {
  checkPartition(p, maxPartitions);
  checkInteger(name, o, 0, MAX_OFFSET);
}

/** LedgerRead(p, epoch, next): the row's fields; whether they are possible is the core's check. */
export function checkLedgerRead(p: number, epoch: number, next: number, maxPartitions: number): void {
  checkPartition(p, maxPartitions);
  checkInteger('epoch', epoch, 0, MAX_SMALL);
  checkInteger('next', next, 0, MAX_OFFSET);
}

export function checkNow(now: number): void { checkInteger('now', now, 0, MAX_OFFSET); }

/** Throws InvalidArgumentError unless every field of input is in range. */
export function checkInput(input: Input, maxPartitions: number): void {
  if (input === null || typeof input !== 'object') throw new InvalidArgumentError('input must be an object');
  switch (input.kind) {
    case 'Tick': return checkNow(input.now);
    case 'Assigned': return checkAssigned(input.p, input.epoch, input.ledgerNext, input.gen, maxPartitions);
    case 'Fetched': return checkFetched(input.p, input.base, input.count, maxPartitions);
    case 'HandlerSucceeded':
    case 'HandlerFailed': return checkOffset('o', input.p, input.o, maxPartitions);
    case 'LedgerCommitted': return checkOffset('next', input.p, input.next, maxPartitions);
    case 'LedgerRead': return checkLedgerRead(input.p, input.epoch, input.next, maxPartitions);
    case 'Revoked':
    case 'LedgerRejected':
    case 'LedgerUnknown': return checkPartition(input.p, maxPartitions);
    default:
      throw new InvalidArgumentError(`unknown input kind ${String((input as { kind: unknown }).kind)}`);
  }
}
