// Numeric codes shared with the TypeScript side (src/core/types.ts,
// src/core/trace.ts, src/core/errors.ts) and trace-check/SCHEMA.md.  They are
// a wire contract: change them everywhere or nowhere.
#ifndef HTMQC_CORE_CODES_H_
#define HTMQC_CORE_CODES_H_

#include <cstdint>

namespace htmqc {

// Spec: OffsetStates.
enum class OffsetState : uint8_t {
  Pending = 0,
  Processing = 1,
  Done = 2,
  Failed = 3,
  DeadLettered = 4,
};

// Command opcodes; a packed command is [op, p, a, b, c] (src/core/commands.ts).
enum class CommandOp : int32_t {
  RunHandler = 1,
  WriteLedger = 2,
  CommitBroker = 3,
  Pause = 4,
  Resume = 5,
  Seek = 6,
  DeadLetter = 7,
};

// Spec action names; a binary trace record is [seq, action, p, epoch, base, pos, a, b].
enum class Action : int32_t {
  Assign = 1,
  Revoke = 2,
  Fetch = 3,
  Begin = 4,
  Succeed = 5,
  Fail = 6,
  Retry = 7,
  DeadLetter = 8,
  Commit = 9,
  CommitRejected = 10,
  CommitBroker = 11,
};

enum class ErrorCode : int32_t {
  None = 0,
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
};

constexpr int kErrorCodeCount = 12;
constexpr int kCommandStride = 5;
constexpr int kTraceStride = 8;

}  // namespace htmqc

#endif  // HTMQC_CORE_CODES_H_
