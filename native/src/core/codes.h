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
  ReadLedger = 8,
};

// Spec Answers, in the spec's order: what the core knows of its write in
// flight.  Committed and Rejected last only inside the step that takes them.
enum class Answer : uint8_t {
  NoAnswer = 0,
  Committed = 1,
  Rejected = 2,
  Unknown = 3,
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
  WriteLedger = 12,
  LoseAnswer = 13,
  Recover = 14,
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
  AnswerLost = 12,
  AnswerNotLost = 13,
};

constexpr int kErrorCodeCount = 14;
constexpr int kCommandStride = 5;
constexpr int kTraceStride = 8;

}  // namespace htmqc

#endif  // HTMQC_CORE_CODES_H_
