// The native DCSM's transitions.  Each function names the spec action it
// implements; src/core/machine.ts is the reference they must match exactly
// (test/unit/core.model.test.ts drives both with the same inputs).
#include "dcsm.h"

#include <algorithm>
#include <cmath>

namespace htmqc {

namespace {

constexpr int64_t kMaxOffset = 9007199254740991LL;  // 2^53 - 1
constexpr int64_t kMaxSmall = 0x7fffffffLL;

std::string str(int64_t v) { return std::to_string(v); }

Status error(ErrorCode code, std::string message) {
  Status st;
  st.code = code;
  st.message = std::move(message);
  return st;
}

bool in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

bool check_arg(const char* name, int64_t v, int64_t lo, int64_t hi, Status& st) {
  if (in_range(v, lo, hi)) return true;
  st = error(ErrorCode::InvalidArgument,
             std::string(name) + " must be an integer in [" + str(lo) + ", " + str(hi) + "], got " + str(v));
  return false;
}

}  // namespace

std::string check_config(const Config& config) {
  if (config.window < 1 || config.window > (1u << 20)) return "maxInFlightPerPartition must be in [1, 2^20]";
  if (config.max_retries > 254) return "maxRetries must be in [0, 254]";
  if (config.retry_backoff < 0 || config.retry_backoff > kMaxSmall) return "retryBackoffMs must be in [0, 2^31-1]";
  if (config.max_partitions < 1 || config.max_partitions > (1u << 20)) return "maxPartitions must be in [1, 2^20]";
  return "";
}

Dcsm::Dcsm(const Config& config) : config_(config) {
  if (config.trace_capacity > 0) trace_ = std::make_unique<TraceRing>(config.trace_capacity);
}

// ------------------------------------------------------------ Ready cycle --

Status Dcsm::begin_call(size_t worst_case_commands) {
  cmd_count_ = 0;
  if (cmd_ == nullptr || worst_case_commands > cmd_capacity_) {
    return error(ErrorCode::CommandBufferTooSmall,
                 "command buffer holds " + str(static_cast<int64_t>(cmd_capacity_)) + " commands, the call may need " +
                     str(static_cast<int64_t>(worst_case_commands)));
  }
  return Status{};
}

void Dcsm::touch(int64_t p, Partition& ps) {
  if (ps.touched) return;
  ps.touched = true;
  touched_.push_back(p);
}

// The Ready point: spec WriteLedger for touched partitions with a finished
// prefix and no write in flight.
void Dcsm::flush() {
  for (int64_t p : touched_) {
    Partition& ps = partitions_[static_cast<size_t>(p)];
    ps.touched = false;
    if (!ps.held || ps.write_up_to != 0 || ps.head == 0) continue;
    ps.write_up_to = ps.base + ps.head;
    emit(Action::WriteLedger, p, &ps, ps.base, ps.write_up_to);
    push(CommandOp::WriteLedger, p, ps.epoch, ps.base, ps.write_up_to);
  }
  touched_.clear();
}

// --------------------------------------------------------------- checks --

bool Dcsm::check_partition(int64_t p, Status& st) const {
  return check_arg("p", p, 0, static_cast<int64_t>(config_.max_partitions) - 1, st);
}

Dcsm::Partition* Dcsm::held_or_error(int64_t p, Status& st) {
  if (static_cast<size_t>(p) < partitions_.size()) {
    Partition& ps = partitions_[static_cast<size_t>(p)];
    if (ps.held) return &ps;
  }
  st = error(ErrorCode::UnheldPartition, "partition " + str(p) + " is not held");
  return nullptr;
}

Slot* Dcsm::running_head_or_error(int64_t p, Partition& ps, int64_t o, Status& st) {
  if (o < ps.base || o >= ps.pos()) {
    st = error(ErrorCode::OffsetOutsideWindow, "offset " + str(o) + " of partition " + str(p) +
                                                   " is outside the window [" + str(ps.base) + ", " + str(ps.pos()) + ")");
    return nullptr;
  }
  Slot& slot = ps.win.at(static_cast<uint32_t>(o - ps.base));
  if (o - ps.base != ps.head || slot.st != OffsetState::Processing) {
    st = error(ErrorCode::HandlerNotRunning, "no handler is running for offset " + str(o) + " of partition " + str(p));
    return nullptr;
  }
  return &slot;
}

// -------------------------------------------------------------- actions --

// Spec Assign: the ledger was fenced with epoch; resume at its next.
Status Dcsm::assigned(int64_t p, int64_t epoch, int64_t ledger_next, int64_t gen) {
  Status st = begin_call(2);
  if (!st.ok()) return st;
  if (!check_partition(p, st) || !check_arg("epoch", epoch, 1, kMaxSmall, st) ||
      !check_arg("ledgerNext", ledger_next, 0, kMaxOffset, st) || !check_arg("gen", gen, 0, kMaxSmall, st)) {
    return st;
  }
  if (static_cast<size_t>(p) >= partitions_.size()) partitions_.resize(static_cast<size_t>(p) + 1);
  Partition& ps = partitions_[static_cast<size_t>(p)];
  if (ps.held) return error(ErrorCode::PartitionAlreadyHeld, "partition " + str(p) + " is already held; Revoked must come first");
  if (epoch <= ps.fence) {
    return error(ErrorCode::StaleEpoch, "Assigned(" + str(p) + ") epoch " + str(epoch) + " is not above the last epoch " + str(ps.fence));
  }
  ps.held = true;
  ps.paused = false;
  ps.epoch = epoch;
  ps.gen = gen;
  ps.base = ledger_next;
  ps.head = 0;
  ps.write_up_to = 0;
  ps.answer = Answer::NoAnswer;
  ps.retry_due_at = 0;
  ps.fence = epoch;
  ps.win.reset(config_.window);
  ++held_count_;
  emit(Action::Assign, p, &ps, gen, 0);
  push(CommandOp::Seek, p, ledger_next);
  push(CommandOp::Resume, p);
  return st;
}

// Spec Revoke: drop the window; the next holder redoes it from the ledger.
Status Dcsm::revoked(int64_t p) {
  Status st = begin_call(0);
  if (!st.ok() || !check_partition(p, st)) return st;
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  ps->held = false;
  --held_count_;
  emit(Action::Revoke, p, nullptr, ps->epoch, 0);
  return st;
}

// Spec Fetch, once per accepted record: only the window's free room is
// accepted; the runtime Seeks back for the rest, and a full window pauses.
Status Dcsm::fetched(int64_t p, int64_t base, int64_t count) {
  Status st = begin_call(4);
  if (!st.ok()) return st;
  if (!check_partition(p, st) || !check_arg("base", base, 0, kMaxOffset, st) || !check_arg("count", count, 1, kMaxSmall, st)) {
    return st;
  }
  if (base + count > kMaxOffset) return error(ErrorCode::InvalidArgument, "base + count exceeds 2^53 - 1");
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  if (base != ps->pos()) {
    return error(ErrorCode::OffsetOutsideWindow, "Fetched(" + str(p) + ") base " + str(base) + " is not the position " + str(ps->pos()));
  }
  const int64_t room = static_cast<int64_t>(config_.window) - static_cast<int64_t>(ps->win.size());
  const int64_t accepted = std::min(count, room);
  ps->win.push_pending(static_cast<uint32_t>(accepted));
  if (accepted > 0) emit(Action::Fetch, p, ps, base, accepted);
  if (accepted < count) push(CommandOp::Seek, p, base + accepted);
  if (ps->win.size() == config_.window && !ps->paused) {
    ps->paused = true;
    push(CommandOp::Pause, p);
  }
  touch(p, *ps);
  do_begin(p, *ps);
  flush();
  return st;
}

// Spec Begin: start the head when it is Pending (offset order).
void Dcsm::do_begin(int64_t p, Partition& ps) {
  if (ps.head >= ps.win.size()) return;
  Slot& slot = ps.win.at(ps.head);
  if (slot.st != OffsetState::Pending) return;
  slot.st = OffsetState::Processing;
  const int64_t o = ps.base + ps.head;
  emit(Action::Begin, p, &ps, o, slot.tries);
  push(CommandOp::RunHandler, p, o);
}

// Spec Succeed, then Begin of the next offset.
Status Dcsm::one_succeed(int64_t p, int64_t o) {
  Status st;
  if (!check_partition(p, st) || !check_arg("o", o, 0, kMaxOffset, st)) return st;
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  Slot* slot = running_head_or_error(p, *ps, o, st);
  if (slot == nullptr) return st;
  slot->st = OffsetState::Done;
  ++ps->head;
  emit(Action::Succeed, p, ps, o, slot->tries);
  touch(p, *ps);
  do_begin(p, *ps);
  return st;
}

// Spec Fail; when tries exceed MaxRetries, spec DeadLetter and Begin follow.
Status Dcsm::one_fail(int64_t p, int64_t o) {
  Status st;
  if (!check_partition(p, st) || !check_arg("o", o, 0, kMaxOffset, st)) return st;
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  Slot* slot = running_head_or_error(p, *ps, o, st);
  if (slot == nullptr) return st;
  slot->st = OffsetState::Failed;
  ++slot->tries;
  emit(Action::Fail, p, ps, o, slot->tries);
  touch(p, *ps);
  if (slot->tries <= config_.max_retries) {
    ps->retry_due_at = now_ + config_.retry_backoff;
    return st;
  }
  slot->st = OffsetState::DeadLettered;
  ++ps->head;
  emit(Action::DeadLetter, p, ps, o, slot->tries);
  push(CommandOp::DeadLetter, p, o);
  do_begin(p, *ps);
  return st;
}

Status Dcsm::handler_succeeded(int64_t p, int64_t o) {
  Status st = begin_call(3);
  if (!st.ok()) return st;
  st = one_succeed(p, o);
  flush();
  return st;
}

Status Dcsm::handler_failed(int64_t p, int64_t o) {
  Status st = begin_call(3);
  if (!st.ok()) return st;
  st = one_fail(p, o);
  flush();
  return st;
}

Status Dcsm::handler_results(const int32_t* partitions, const double* offsets, const uint8_t* outcomes, size_t n) {
  Status st = begin_call(3 * n);
  if (!st.ok()) return st;
  for (size_t i = 0; i < n; ++i) {
    const double od = offsets[i];
    if (!(od >= 0 && od <= static_cast<double>(kMaxOffset) && std::floor(od) == od)) {
      st = error(ErrorCode::InvalidArgument, "o must be an integer in [0, " + str(kMaxOffset) + "]");
    } else if (outcomes[i] == 0) {
      st = one_fail(partitions[i], static_cast<int64_t>(od));
    } else {
      st = one_succeed(partitions[i], static_cast<int64_t>(od));
    }
    if (!st.ok()) {
      st.applied = i;
      break;
    }
  }
  flush();
  return st;
}

// The all-succeeded fast path: the same transitions, commands and records as
// HandlerSucceeded(p, o) for each o in [from, to), in one call.  When the
// range starts at the running head and lies inside the window, every one of
// those inputs is valid (each Succeed's Begin starts the next offset), so the
// loop needs no per-offset checks; otherwise the general loop finds the
// rejected input.
Status Dcsm::succeeded_range(int64_t p, int64_t from, int64_t to) {
  Status st;
  if (!check_partition(p, st) || !check_arg("from", from, 0, kMaxOffset, st) || !check_arg("to", to, from, kMaxOffset, st)) {
    cmd_count_ = 0;
    return st;
  }
  st = begin_call(static_cast<size_t>(to - from) + 1);
  if (!st.ok()) return st;
  Partition* ps = static_cast<size_t>(p) < partitions_.size() ? &partitions_[static_cast<size_t>(p)] : nullptr;
  if (from < to && ps != nullptr && ps->held && from == ps->base + ps->head && to <= ps->pos() &&
      ps->win.at(ps->head).st == OffsetState::Processing) {
    const uint32_t len = ps->win.size();
    for (int64_t o = from; o < to; ++o) {
      Slot& done = ps->win.at(ps->head);
      done.st = OffsetState::Done;
      ++ps->head;
      emit(Action::Succeed, p, ps, o, done.tries);  // Succeed
      if (ps->head < len) {                          // Begin (the next slot is Pending by WindowShapeInv)
        ps->win.at(ps->head).st = OffsetState::Processing;
        emit(Action::Begin, p, ps, o + 1, 0);
        push(CommandOp::RunHandler, p, o + 1);
      }
    }
    touch(p, *ps);
  } else {
    for (int64_t o = from; o < to; ++o) {
      st = one_succeed(p, o);
      if (!st.ok()) {
        st.applied = static_cast<size_t>(o - from);
        break;
      }
    }
  }
  flush();
  return st;
}

namespace {

std::string answer_lost(const char* input, int64_t p) {
  return std::string(input) + "(" + str(p) + ") after LedgerUnknown(" + str(p) + "): the answer was lost; only LedgerRead may follow";
}

}  // namespace

// Spec Commit of the write in flight (answer Committed), then spec CommitBroker.
void Dcsm::take_commit(int64_t p, Partition& ps) {
  const int64_t from = ps.base;
  const int64_t next = ps.write_up_to;
  const uint32_t k = static_cast<uint32_t>(next - from);
  ps.win.drop_front(k);
  ps.head -= k;
  ps.base = next;
  ps.write_up_to = 0;
  ps.answer = Answer::NoAnswer;
  emit(Action::Commit, p, &ps, from, next);
  push(CommandOp::CommitBroker, p, next);
  emit(Action::CommitBroker, p, &ps, next, 0);
  if (ps.paused) {
    ps.paused = false;
    push(CommandOp::Resume, p);
  }
  touch(p, ps);
}

// Spec CommitRejected (answer Rejected): a newer epoch fenced the ledger; drop the partition.
void Dcsm::take_rejected(int64_t p, Partition& ps) {
  ps.held = false;
  --held_count_;
  emit(Action::CommitRejected, p, nullptr, ps.epoch, 0);
  push(CommandOp::Pause, p);
}

// Input LedgerCommitted: spec Commit (the ledger applied WriteLedger), then spec CommitBroker.
Status Dcsm::ledger_committed(int64_t p, int64_t next) {
  Status st = begin_call(3);
  if (!st.ok()) return st;
  if (!check_partition(p, st) || !check_arg("next", next, 0, kMaxOffset, st)) return st;
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  if (ps->write_up_to == 0) return error(ErrorCode::NoLedgerWriteInFlight, "LedgerCommitted(" + str(p) + ") without a WriteLedger in flight");
  if (ps->answer == Answer::Unknown) return error(ErrorCode::AnswerLost, answer_lost("LedgerCommitted", p));
  if (next != ps->write_up_to) {
    return error(ErrorCode::LedgerNextMismatch,
                 "LedgerCommitted(" + str(p) + ", " + str(next) + ") but WriteLedger asked for " + str(ps->write_up_to));
  }
  take_commit(p, *ps);
  flush();
  return st;
}

// Input LedgerRejected: spec CommitRejected.
Status Dcsm::ledger_rejected(int64_t p) {
  Status st = begin_call(1);
  if (!st.ok() || !check_partition(p, st)) return st;
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  if (ps->write_up_to == 0) return error(ErrorCode::NoLedgerWriteInFlight, "LedgerRejected(" + str(p) + ") without a WriteLedger in flight");
  if (ps->answer == Answer::Unknown) return error(ErrorCode::AnswerLost, answer_lost("LedgerRejected", p));
  take_rejected(p, *ps);
  return st;
}

// Input LedgerUnknown: spec LoseAnswer; the core asks for the row (ReadLedger).
Status Dcsm::ledger_unknown(int64_t p) {
  Status st = begin_call(1);
  if (!st.ok() || !check_partition(p, st)) return st;
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  if (ps->write_up_to == 0) return error(ErrorCode::NoLedgerWriteInFlight, "LedgerUnknown(" + str(p) + ") without a WriteLedger in flight");
  if (ps->answer == Answer::Unknown) return error(ErrorCode::AnswerLost, answer_lost("LedgerUnknown", p));
  ps->answer = Answer::Unknown;
  emit(Action::LoseAnswer, p, ps, ps->write_up_to, 0);
  push(CommandOp::ReadLedger, p, ps->epoch);
  return st;
}

// Input LedgerRead(p, epoch, next): spec Recover, deciding from the row as
// RecoverDecision; Committed and Rejected are taken in the same step (spec
// Commit + CommitBroker, spec CommitRejected), NoAnswer leaves the window as
// it is for the Ready point to write again.  Rows the invariants rule out
// change nothing.
Status Dcsm::ledger_read(int64_t p, int64_t epoch, int64_t next) {
  Status st = begin_call(3);
  if (!st.ok()) return st;
  if (!check_partition(p, st) || !check_arg("epoch", epoch, 0, kMaxSmall, st) || !check_arg("next", next, 0, kMaxOffset, st)) {
    return st;
  }
  Partition* ps = held_or_error(p, st);
  if (ps == nullptr) return st;
  if (epoch < ps->epoch) {
    return error(ErrorCode::StaleEpoch, "LedgerRead(" + str(p) + ") row epoch " + str(epoch) + " is below the held epoch " +
                                            str(ps->epoch) + ": a ledger epoch never goes back");
  }
  if (ps->answer != Answer::Unknown) {
    return error(ErrorCode::AnswerNotLost, "LedgerRead(" + str(p) + ") without a lost answer: LedgerUnknown comes first");
  }
  if (epoch == ps->epoch && next != ps->write_up_to && next != ps->base) {
    return error(ErrorCode::LedgerNextMismatch, "LedgerRead(" + str(p) + ") row next " + str(next) + " under the held epoch " +
                                                    str(epoch) + " is neither the write's expectedNext " + str(ps->base) +
                                                    " nor its upTo " + str(ps->write_up_to));
  }
  const Answer d = epoch != ps->epoch ? Answer::Rejected : next == ps->write_up_to ? Answer::Committed : Answer::NoAnswer;
  ps->answer = d;
  if (d == Answer::NoAnswer) ps->write_up_to = 0;
  emit(Action::Recover, p, ps, epoch, next);
  if (d == Answer::Committed) {
    take_commit(p, *ps);
  } else if (d == Answer::Rejected) {
    take_rejected(p, *ps);
  } else {
    touch(p, *ps);
  }
  flush();
  return st;
}

// Spec Retry for every Failed head whose backoff is over, ascending partition.
Status Dcsm::tick(int64_t now) {
  Status st = begin_call(held_count_);
  if (!st.ok() || !check_arg("now", now, 0, kMaxOffset, st)) return st;
  if (now < now_) return error(ErrorCode::ClockWentBackwards, "Tick(" + str(now) + ") is before the last Tick(" + str(now_) + ")");
  now_ = now;
  for (size_t p = 0; p < partitions_.size(); ++p) {
    Partition& ps = partitions_[p];
    if (!ps.held || ps.head >= ps.win.size()) continue;
    Slot& slot = ps.win.at(ps.head);
    if (slot.st != OffsetState::Failed || ps.retry_due_at > now) continue;
    slot.st = OffsetState::Processing;
    ps.retry_due_at = 0;
    const int64_t o = ps.base + ps.head;
    emit(Action::Retry, static_cast<int64_t>(p), &ps, o, slot.tries);
    push(CommandOp::RunHandler, static_cast<int64_t>(p), o);
  }
  return st;
}

// Layout: [now, seq, nFences, nHeld, (p, fence) x nFences,
//          per held: p, epoch, gen, base, len, head, paused, writeUpTo, answer, retryDueAt, (st, tries) x len].
void Dcsm::snapshot(std::vector<double>& out) const {
  out.clear();
  size_t fences = 0;
  for (const Partition& ps : partitions_) fences += ps.fence > 0 ? 1 : 0;
  out.push_back(static_cast<double>(now_));
  out.push_back(static_cast<double>(seq_));
  out.push_back(static_cast<double>(fences));
  out.push_back(static_cast<double>(held_count_));
  for (size_t p = 0; p < partitions_.size(); ++p) {
    if (partitions_[p].fence == 0) continue;
    out.push_back(static_cast<double>(p));
    out.push_back(static_cast<double>(partitions_[p].fence));
  }
  for (size_t p = 0; p < partitions_.size(); ++p) {
    const Partition& ps = partitions_[p];
    if (!ps.held) continue;
    const bool failed_head = ps.head < ps.win.size() && ps.win.at(ps.head).st == OffsetState::Failed;
    const double fields[] = {static_cast<double>(p), static_cast<double>(ps.epoch), static_cast<double>(ps.gen),
                             static_cast<double>(ps.base), static_cast<double>(ps.win.size()), static_cast<double>(ps.head),
                             ps.paused ? 1.0 : 0.0, static_cast<double>(ps.write_up_to),
                             static_cast<double>(static_cast<int>(ps.answer)),
                             failed_head ? static_cast<double>(ps.retry_due_at) : 0.0};
    out.insert(out.end(), std::begin(fields), std::end(fields));
    for (uint32_t i = 0; i < ps.win.size(); ++i) {
      out.push_back(static_cast<double>(static_cast<int>(ps.win.at(i).st)));
      out.push_back(static_cast<double>(ps.win.at(i).tries));
    }
  }
}

}  // namespace htmqc
