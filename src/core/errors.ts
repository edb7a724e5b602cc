// Typed errors of the DCSM cores.  Classify by class (or by the numeric
// `code`, which the native core uses to pick the class), never by message.

import type { Command } from './types';

/** Numeric error codes shared with native/src/core/codes.h. */
export enum ErrorCode {
  InvalidArgument = 1,
  UnheldPartition = 2,
  PartitionAlreadyHeld = 3,
  StaleEpoch = 4,
  OffsetOutsideWindow = 5,
  HandlerNotRunning = 6,
  NoLedgerWriteInFlight = 7,
  LedgerNextMismatch = 8,
  ClockWentBackwards = 9,
  CommandBufferTooSmall = 10,
  NativeUnavailable = 11,
  AnswerLost = 12,
  AnswerNotLost = 13,
}

export interface DcsmErrorOptions {
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

/** Root of every error the cores and the facade throw. */
export class DcsmError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  /**
   * For a batch (handlerResults, succeededRange): how many inputs were applied
   * before the rejected one.  Those stay applied; `commands` holds what they
   * produced, which the caller must still execute.
   */
  applied = 0;
  commands: readonly Command[] = [];

  constructor(code: ErrorCode, message: string, options: DcsmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A malformed argument (not an integer, out of range); nothing was applied. */
export class InvalidArgumentError extends DcsmError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.InvalidArgument, message, options); }
}

/** A well-formed input that the current state does not allow; nothing of it was applied. */
export class InvalidInputError extends DcsmError {}

export class UnheldPartitionError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.UnheldPartition, message, options); }
}
export class PartitionAlreadyHeldError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.PartitionAlreadyHeld, message, options); }
}
export class StaleEpochError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.StaleEpoch, message, options); }
}
export class OffsetOutsideWindowError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.OffsetOutsideWindow, message, options); }
}
export class HandlerNotRunningError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.HandlerNotRunning, message, options); }
}
export class NoLedgerWriteInFlightError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.NoLedgerWriteInFlight, message, options); }
}
export class LedgerNextMismatchError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.LedgerNextMismatch, message, options); }
}
export class ClockWentBackwardsError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.ClockWentBackwards, message, options); }
}
/**
 * LedgerCommitted, LedgerRejected or LedgerUnknown after LedgerUnknown: the
 * answer of the write in flight was lost, and only LedgerRead (the row, read
 * once the write settled) may decide it now.
 */
export class AnswerLostError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.AnswerLost, message, options); }
}
/** LedgerRead without a lost answer: only LedgerUnknown asks for the row. */
export class AnswerNotLostError extends InvalidInputError {
  constructor(message: string, options?: DcsmErrorOptions) { super(ErrorCode.AnswerNotLost, message, options); }
}

/** The native addon could not be loaded or broke its own contract. */
export class NativeCoreError extends DcsmError {
  constructor(message: string, options?: DcsmErrorOptions, code: ErrorCode = ErrorCode.NativeUnavailable) {
    super(code, message, options);
  }
}

/** The facade sized the native command buffer too small: a bug, not bad input. */
export class CommandBufferTooSmallError extends NativeCoreError {
  constructor(message: string, options?: DcsmErrorOptions) { super(message, options, ErrorCode.CommandBufferTooSmall); }
}

type ErrorClass = new (message: string, options?: DcsmErrorOptions) => DcsmError;

/** Error class per code, indexed by ErrorCode; handed to the native addon at init. */
export const ERROR_CLASSES: readonly (ErrorClass | undefined)[] = (() => {
  const classes: (ErrorClass | undefined)[] = [];
  classes[ErrorCode.InvalidArgument] = InvalidArgumentError;
  classes[ErrorCode.UnheldPartition] = UnheldPartitionError;
  classes[ErrorCode.PartitionAlreadyHeld] = PartitionAlreadyHeldError;
  classes[ErrorCode.StaleEpoch] = StaleEpochError;
  classes[ErrorCode.OffsetOutsideWindow] = OffsetOutsideWindowError;
  classes[ErrorCode.HandlerNotRunning] = HandlerNotRunningError;
  classes[ErrorCode.NoLedgerWriteInFlight] = NoLedgerWriteInFlightError;
  classes[ErrorCode.LedgerNextMismatch] = LedgerNextMismatchError;
  classes[ErrorCode.ClockWentBackwards] = ClockWentBackwardsError;
  classes[ErrorCode.CommandBufferTooSmall] = CommandBufferTooSmallError;
  classes[ErrorCode.NativeUnavailable] = NativeCoreError;
  classes[ErrorCode.AnswerLost] = AnswerLostError;
  classes[ErrorCode.AnswerNotLost] = AnswerNotLostError;
  return classes;
})();

/** Builds the typed error for a code (used by the cores and the native glue). */
export function errorFor(code: ErrorCode, message: string): DcsmError {
  const cls = ERROR_CLASSES[code];
  return cls === undefined ? new DcsmError(code, message) : new cls(message);
}
