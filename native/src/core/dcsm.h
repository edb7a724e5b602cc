// The native DCSM: the same machine as src/core/machine.ts, in C++17 with no
// Node headers.  One instance is one consumer process (the spec's local[c]).
//
// Every public input method is one Ready cycle:
//  1. it checks its arguments and the command buffer's room for the worst case
//     of the call, and returns an error before touching any state if either
//     fails;
//  2. it applies its inputs in order; each input is checked against the state
//     before it changes anything, and a rejected input stops the batch (the
//     inputs before it stay applied: Status::applied says how many);
//  3. it flushes: every partition it touched that has a finished prefix and no
//     ledger write in flight gets WriteLedger(p, epoch, base, base + k) (the
//     spec action WriteLedger, with its trace record).
// Commands go to the caller's buffer (set_command_buffer), packed as
// [op, p, a, b, c]; trace records go to the TraceRing when tracing is on.
#ifndef HTMQC_CORE_DCSM_H_
#define HTMQC_CORE_DCSM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codes.h"
#include "offset_window.h"
#include "trace_ring.h"

namespace htmqc {

struct Config {
  uint32_t window = 1;        // spec Window, 1..2^20
  uint32_t max_retries = 0;   // spec MaxRetries, 0..254
  int64_t retry_backoff = 0;  // Fail -> Retry delay in Tick units
  uint32_t max_partitions = 4096;
  size_t trace_capacity = 0;  // records; 0 = tracing off
};

struct Status {
  ErrorCode code = ErrorCode::None;
  std::string message;
  size_t applied = 0;  // inputs of a batch applied before the rejected one
  bool ok() const { return code == ErrorCode::None; }
};

// Validates a Config; returns an empty string when it is usable.
std::string check_config(const Config& config);

class Dcsm {
 public:
  explicit Dcsm(const Config& config);

  // The buffer commands are written to, capacity in commands (5 doubles each).
  void set_command_buffer(double* data, size_t capacity) {
    cmd_ = data;
    cmd_capacity_ = capacity;
  }
  // Commands written by the last call (also after an error: the applied prefix's).
  size_t command_count() const { return cmd_count_; }

  Status assigned(int64_t p, int64_t epoch, int64_t ledger_next, int64_t gen);
  Status revoked(int64_t p);
  Status fetched(int64_t p, int64_t base, int64_t count);
  Status handler_succeeded(int64_t p, int64_t o);
  Status handler_failed(int64_t p, int64_t o);
  // outcomes[i] == 0: HandlerFailed(partitions[i], offsets[i]); else HandlerSucceeded.
  Status handler_results(const int32_t* partitions, const double* offsets, const uint8_t* outcomes, size_t n);
  // HandlerSucceeded(p, o) for o in [from, to), as one Ready cycle.
  Status succeeded_range(int64_t p, int64_t from, int64_t to);
  Status ledger_committed(int64_t p, int64_t next);
  Status ledger_rejected(int64_t p);
  // Spec LoseAnswer: the write in flight's answer was lost; command ReadLedger(p, epoch).
  Status ledger_unknown(int64_t p);
  // Spec Recover: the row (epoch, next) read after the lost write settled.
  Status ledger_read(int64_t p, int64_t epoch, int64_t next);
  Status tick(int64_t now);

  // Canonical snapshot, layout in src/core/native.ts (decodeSnapshot).
  void snapshot(std::vector<double>& out) const;

  TraceRing* trace() { return trace_.get(); }
  int64_t seq() const { return seq_; }
  size_t held_count() const { return held_count_; }
  const Config& config() const { return config_; }

 private:
  struct Partition {
    bool held = false;
    bool paused = false;
    bool touched = false;
    int64_t epoch = 0;
    int64_t gen = 0;
    int64_t base = 0;
    uint32_t head = 0;          // FinishedPrefixLen(win)
    int64_t write_up_to = 0;    // 0 = no WriteLedger in flight
    Answer answer = Answer::NoAnswer;  // NoAnswer, or Unknown from LedgerUnknown to LedgerRead
    int64_t retry_due_at = 0;   // meaningful while the head is Failed
    int64_t fence = 0;          // highest epoch ever assigned here
    OffsetWindow win;
    int64_t pos() const { return base + static_cast<int64_t>(win.size()); }
  };

  // Ready-cycle scaffolding.
  Status begin_call(size_t worst_case_commands);
  void flush();
  void touch(int64_t p, Partition& ps);

  // Input checks shared by every call.
  bool check_partition(int64_t p, Status& st) const;
  Partition* held_or_error(int64_t p, Status& st);
  Slot* running_head_or_error(int64_t p, Partition& ps, int64_t o, Status& st);

  // Transitions (spec actions).
  void do_begin(int64_t p, Partition& ps);
  void take_commit(int64_t p, Partition& ps);
  void take_rejected(int64_t p, Partition& ps);
  Status one_succeed(int64_t p, int64_t o);
  Status one_fail(int64_t p, int64_t o);

  void push(CommandOp op, int64_t p, int64_t a = 0, int64_t b = 0, int64_t c = 0) {
    double* r = cmd_ + cmd_count_ * kCommandStride;
    r[0] = static_cast<double>(static_cast<int32_t>(op));
    r[1] = static_cast<double>(p);
    r[2] = static_cast<double>(a);
    r[3] = static_cast<double>(b);
    r[4] = static_cast<double>(c);
    ++cmd_count_;
  }
  // One trace record per transition with the post-state; a null check when off.
  void emit(Action action, int64_t p, const Partition* ps, int64_t a, int64_t b) {
    ++seq_;
    if (trace_ == nullptr) return;
    if (ps == nullptr) {
      trace_->push(seq_, action, p, 0, 0, 0, a, b);
    } else {
      trace_->push(seq_, action, p, ps->epoch, ps->base, ps->pos(), a, b);
    }
  }

  Config config_;
  std::vector<Partition> partitions_;
  std::vector<int64_t> touched_;
  std::unique_ptr<TraceRing> trace_;
  double* cmd_ = nullptr;
  size_t cmd_capacity_ = 0;
  size_t cmd_count_ = 0;
  size_t held_count_ = 0;
  int64_t now_ = 0;
  int64_t seq_ = 0;
};

}  // namespace htmqc

#endif  // HTMQC_CORE_DCSM_H_
