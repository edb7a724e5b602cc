// Standalone tests of the pure C++ DCSM (no Node).  Build and run:
//   g++ -std=c++17 -O2 -Wall -Wextra -Inative/src native/test/core_test.cc native/src/core/dcsm.cc -o build/core_test && build/core_test
// Each check names the spec action it exercises; a failure prints the line.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/dcsm.h"

namespace {

int failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

using htmqc::Action;
using htmqc::CommandOp;
using htmqc::ErrorCode;
using htmqc::kCommandStride;
using htmqc::kTraceStride;

struct Harness {
  htmqc::Dcsm core;
  std::vector<double> cmds;
  explicit Harness(const htmqc::Config& config) : core(config), cmds(4096 * kCommandStride) {
    core.set_command_buffer(cmds.data(), 4096);
  }
  // Command i's opcode and first argument.
  CommandOp op(size_t i) const { return static_cast<CommandOp>(static_cast<int>(cmds[i * kCommandStride])); }
  double arg(size_t i, int k) const { return cmds[i * kCommandStride + 2 + k]; }
  size_t n() const { return core.command_count(); }
};

htmqc::Config config(uint32_t window, uint32_t max_retries, size_t trace_capacity) {
  htmqc::Config c;
  c.window = window;
  c.max_retries = max_retries;
  c.retry_backoff = 10;
  c.max_partitions = 64;
  c.trace_capacity = trace_capacity;
  return c;
}

void test_assign_fetch_begin() {
  Harness h(config(3, 1, 64));
  CHECK(h.core.assigned(0, 1, 10, 7).ok());                     // Assign
  CHECK(h.n() == 2 && h.op(0) == CommandOp::Seek && h.arg(0, 0) == 10 && h.op(1) == CommandOp::Resume);
  CHECK(h.core.fetched(0, 10, 5).ok());                         // Fetch x3, Begin
  CHECK(h.n() == 3 && h.op(0) == CommandOp::Seek && h.arg(0, 0) == 13 && h.op(1) == CommandOp::Pause &&
        h.op(2) == CommandOp::RunHandler && h.arg(2, 0) == 10);
  CHECK(h.core.fetched(0, 12, 1).code == ErrorCode::OffsetOutsideWindow);
  CHECK(h.core.assigned(0, 2, 0, 0).code == ErrorCode::PartitionAlreadyHeld);
  CHECK(h.core.revoked(1).code == ErrorCode::UnheldPartition);
  CHECK(h.core.revoked(64).code == ErrorCode::InvalidArgument);
}

void test_succeed_fail_retry_deadletter_commit() {
  Harness h(config(4, 1, 64));
  h.core.assigned(2, 1, 0, 1);
  h.core.fetched(2, 0, 3);
  CHECK(h.core.handler_succeeded(2, 1).code == ErrorCode::HandlerNotRunning);  // Begin's offset order
  CHECK(h.core.handler_succeeded(2, 0).ok());                                   // Succeed, Begin
  CHECK(h.n() == 2 && h.op(0) == CommandOp::RunHandler && h.arg(0, 0) == 1 && h.op(1) == CommandOp::WriteLedger &&
        h.arg(1, 0) == 1 && h.arg(1, 1) == 0 && h.arg(1, 2) == 1);
  CHECK(h.core.handler_failed(2, 1).ok() && h.n() == 0);                        // Fail
  CHECK(h.core.tick(9).ok() && h.n() == 0);
  CHECK(h.core.tick(10).ok() && h.n() == 1 && h.op(0) == CommandOp::RunHandler);  // Retry
  CHECK(h.core.handler_failed(2, 1).ok());                                         // Fail, DeadLetter, Begin
  CHECK(h.n() == 2 && h.op(0) == CommandOp::DeadLetter && h.arg(0, 0) == 1 && h.op(1) == CommandOp::RunHandler);
  CHECK(h.core.ledger_committed(2, 2).code == ErrorCode::LedgerNextMismatch);
  CHECK(h.core.ledger_committed(2, 1).ok());                                       // Commit, CommitBroker
  CHECK(h.n() == 2 && h.op(0) == CommandOp::CommitBroker && h.arg(0, 0) == 1 && h.op(1) == CommandOp::WriteLedger &&
        h.arg(1, 1) == 1 && h.arg(1, 2) == 2);
  CHECK(h.core.ledger_rejected(2).ok() && h.n() == 1 && h.op(0) == CommandOp::Pause);  // CommitRejected
  CHECK(h.core.assigned(2, 1, 0, 2).code == ErrorCode::StaleEpoch);
  CHECK(h.core.tick(5).code == ErrorCode::ClockWentBackwards);
}

void test_batch_prefix_and_buffer_bound() {
  Harness h(config(8, 0, 0));
  h.core.assigned(0, 1, 0, 1);
  h.core.fetched(0, 0, 8);
  const int32_t ps[] = {0, 0, 0};
  const double os[] = {0, 1, 5};
  const uint8_t oc[] = {1, 0, 1};
  htmqc::Status st = h.core.handler_results(ps, os, oc, 3);  // Succeed, Fail -> DeadLetter, then a bad offset
  CHECK(st.code == ErrorCode::HandlerNotRunning && st.applied == 2);
  CHECK(h.n() == 4 && h.op(3) == CommandOp::WriteLedger && h.arg(3, 2) == 2);
  std::vector<double> small(2 * kCommandStride);
  h.core.set_command_buffer(small.data(), 2);
  CHECK(h.core.succeeded_range(0, 2, 8).code == ErrorCode::CommandBufferTooSmall);
}

// The ring's watermark wraps many times; the window never exceeds Window.
void test_ring_wraps() {
  Harness h(config(5, 0, 0));
  h.core.assigned(1, 1, 0, 1);
  int64_t base = 0;
  for (int round = 0; round < 1000; ++round) {
    CHECK(h.core.fetched(1, base, 3).ok());                        // Fetch x3, Begin
    CHECK(h.core.succeeded_range(1, base, base + 3).ok());         // (Succeed, Begin) x3
    CHECK(h.core.ledger_committed(1, base + 3).ok());              // Commit, CommitBroker
    base += 3;
  }
  std::vector<double> snap;
  h.core.snapshot(snap);
  // [now, seq, nFences, nHeld, p, fence, p, epoch, gen, base, len, head, paused, writeUpTo, answer, retryDueAt]
  CHECK(snap.size() == 16 && snap[9] == static_cast<double>(base) && snap[10] == 0 && snap[14] == 0);
}

void test_trace_ring() {
  Harness h(config(4, 0, 4));
  h.core.assigned(0, 1, 0, 1);   // Assign
  h.core.fetched(0, 0, 2);       // Fetch, Begin
  h.core.handler_succeeded(0, 0);  // Succeed, Begin, WriteLedger: the fifth and sixth records are dropped
  CHECK(h.core.trace()->size() == 4 && h.core.trace()->lost() == 2);
  std::vector<double> out(4 * kTraceStride);
  CHECK(h.core.trace()->drain(out.data(), 4) == 4);
  CHECK(out[0] == 1 && out[1] == static_cast<double>(static_cast<int>(Action::Assign)));
  CHECK(out[kTraceStride * 1 + 1] == static_cast<double>(static_cast<int>(Action::Fetch)) && out[kTraceStride * 1 + 7] == 2);
  CHECK(out[kTraceStride * 3] == 4 && h.core.seq() == 6);
  h.core.handler_succeeded(0, 1);  // Succeed (the write is in flight), written at the ring's start again
  CHECK(h.core.trace()->drain(out.data(), 4) == 1 && out[0] == 7);
}


// Spec WriteLedger, LoseAnswer and Recover's three decisions; the rejections.
// Each case starts from Assign(0, epoch 1, next 10), Fetch x2, Succeed(10):
// WriteLedger(0, 1, 10, 11) in flight, 11 running.
struct Writing : Harness {
  Writing() : Harness(config(3, 0, 64)) {
    core.assigned(0, 1, 10, 1);
    core.fetched(0, 10, 2);
    core.handler_succeeded(0, 10);
  }
  std::vector<double> snap() const {
    std::vector<double> out;
    core.snapshot(out);
    return out;
  }
  // The action codes of the records since the last drain, oldest first (the records in last_).
  std::vector<int> actions() {
    std::vector<double> out(64 * kTraceStride);
    const size_t n = core.trace()->drain(out.data(), 64);
    std::vector<int> codes;
    for (size_t i = 0; i < n; ++i) codes.push_back(static_cast<int>(out[i * kTraceStride + 1]));
    last_ = std::vector<double>(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n * kTraceStride));
    return codes;
  }
  double rec(size_t i, int field) const { return last_[i * kTraceStride + field]; }
  std::vector<double> last_;
};

constexpr size_t kAnswer = 14;  // snapshot index of the one held partition's answer (after one fence)
constexpr size_t kWriteUpTo = 13;
constexpr size_t kBase = 9;
int code(Action a) { return static_cast<int>(a); }

void test_write_ledger_and_lose_answer() {
  Writing h;
  std::vector<int> a = h.actions();
  CHECK(a.size() == 6 && a[5] == code(Action::WriteLedger) && h.rec(5, 6) == 10 && h.rec(5, 7) == 11);  // WriteLedger
  CHECK(h.core.ledger_unknown(0).ok());                                                              // LoseAnswer
  CHECK(h.n() == 1 && h.op(0) == CommandOp::ReadLedger && h.arg(0, 0) == 1);
  a = h.actions();
  CHECK(a.size() == 1 && a[0] == code(Action::LoseAnswer) && h.rec(0, 6) == 11 && h.rec(0, 7) == 0);
  CHECK(h.snap()[kAnswer] == 3 && h.snap()[kWriteUpTo] == 11);
  CHECK(h.core.handler_succeeded(0, 11).ok() && h.n() == 0);  // no write while the answer is lost
  const std::vector<double> before = h.snap();
  CHECK(h.core.ledger_unknown(0).code == ErrorCode::AnswerLost);
  CHECK(h.core.ledger_committed(0, 11).code == ErrorCode::AnswerLost);
  CHECK(h.core.ledger_committed(0, 12).code == ErrorCode::AnswerLost);
  CHECK(h.core.ledger_rejected(0).code == ErrorCode::AnswerLost);
  CHECK(h.core.ledger_read(0, 0, 10).code == ErrorCode::StaleEpoch);
  CHECK(h.core.ledger_read(0, 1, 12).code == ErrorCode::LedgerNextMismatch);
  CHECK(h.core.ledger_read(0, 1, 9).code == ErrorCode::LedgerNextMismatch);
  CHECK(h.core.ledger_read(0, -1, 10).code == ErrorCode::InvalidArgument);
  CHECK(h.core.ledger_unknown(1).code == ErrorCode::UnheldPartition);
  CHECK(h.snap() == before);
  Writing fresh;
  CHECK(fresh.core.ledger_read(0, 1, 11).code == ErrorCode::AnswerNotLost);
  Harness idle(config(3, 0, 0));
  idle.core.assigned(0, 1, 10, 1);
  CHECK(idle.core.ledger_unknown(0).code == ErrorCode::NoLedgerWriteInFlight);
}

void test_recover_committed() {
  Writing h;
  h.core.handler_succeeded(0, 11);
  h.core.ledger_unknown(0);
  h.actions();
  CHECK(h.core.ledger_read(0, 1, 11).ok());  // Recover, Commit, CommitBroker, WriteLedger
  CHECK(h.n() == 2 && h.op(0) == CommandOp::CommitBroker && h.arg(0, 0) == 11 && h.op(1) == CommandOp::WriteLedger &&
        h.arg(1, 1) == 11 && h.arg(1, 2) == 12);
  const std::vector<int> a = h.actions();
  CHECK(a.size() == 4 && a[0] == code(Action::Recover) && a[1] == code(Action::Commit) && a[2] == code(Action::CommitBroker) &&
        a[3] == code(Action::WriteLedger));
  CHECK(h.rec(0, 4) == 10 && h.rec(0, 6) == 1 && h.rec(0, 7) == 11);  // Recover: pre-Commit base, row epoch, row next
  CHECK(h.snap()[kAnswer] == 0 && h.snap()[kBase] == 11 && h.snap()[kWriteUpTo] == 12);
}

void test_recover_no_answer() {
  Writing h;
  h.core.handler_succeeded(0, 11);
  h.core.ledger_unknown(0);
  h.actions();
  CHECK(h.core.ledger_read(0, 1, 10).ok());  // Recover, then the Ready point's WriteLedger of the whole prefix
  CHECK(h.n() == 1 && h.op(0) == CommandOp::WriteLedger && h.arg(0, 1) == 10 && h.arg(0, 2) == 12);
  const std::vector<int> a = h.actions();
  CHECK(a.size() == 2 && a[0] == code(Action::Recover) && a[1] == code(Action::WriteLedger));
  CHECK(h.snap()[kAnswer] == 0 && h.snap()[kBase] == 10 && h.snap()[kWriteUpTo] == 12);
  CHECK(h.core.ledger_committed(0, 12).ok());
}

void test_recover_rejected_and_the_revoke_race() {
  Writing h;
  h.core.ledger_unknown(0);
  h.actions();
  CHECK(h.core.ledger_read(0, 2, 57).ok());  // Recover, CommitRejected
  CHECK(h.n() == 1 && h.op(0) == CommandOp::Pause);
  const std::vector<int> a = h.actions();
  CHECK(a.size() == 2 && a[0] == code(Action::Recover) && a[1] == code(Action::CommitRejected) && h.rec(1, 3) == 0);
  CHECK(h.core.held_count() == 0);
  Writing race;
  race.core.ledger_unknown(0);
  CHECK(race.core.revoked(0).ok());
  CHECK(race.core.ledger_read(0, 1, 11).code == ErrorCode::UnheldPartition);
  CHECK(race.core.assigned(0, 2, 11, 2).ok());
  CHECK(race.core.ledger_read(0, 1, 11).code == ErrorCode::StaleEpoch);
}

}  // namespace

int main() {
  test_assign_fetch_begin();
  test_succeed_fail_retry_deadletter_commit();
  test_batch_prefix_and_buffer_bound();
  test_ring_wraps();
  test_trace_ring();
  test_write_ledger_and_lose_answer();
  test_recover_committed();
  test_recover_no_answer();
  test_recover_rejected_and_the_revoke_race();
  if (failures != 0) {
    std::fprintf(stderr, "core_test: %d check(s) failed\n", failures);
    return 1;
  }
  std::printf("core_test: all checks passed\n");
  return 0;
}
