// A ring of binary trace records, drained in one call by the facade.  The
// record layout is [seq, action, p, epoch, base, pos, a, b] as doubles
// (trace-check/SCHEMA.md).  When full, new records are dropped and counted:
// the gap in seq shows the checker exactly which ones are missing.
#ifndef HTMQC_CORE_TRACE_RING_H_
#define HTMQC_CORE_TRACE_RING_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "codes.h"

namespace htmqc {

class TraceRing {
 public:
  explicit TraceRing(size_t capacity) : buf_(capacity * kTraceStride), capacity_(capacity) {}

  size_t capacity() const { return capacity_; }
  size_t size() const { return size_; }
  uint64_t lost() const { return lost_; }

  void push(int64_t seq, Action action, int64_t p, int64_t epoch, int64_t base, int64_t pos,
            int64_t a, int64_t b) {
    if (size_ == capacity_) {
      ++lost_;
      return;
    }
    size_t at = head_ + size_;
    if (at >= capacity_) at -= capacity_;
    double* r = &buf_[at * kTraceStride];
    r[0] = static_cast<double>(seq);
    r[1] = static_cast<double>(static_cast<int32_t>(action));
    r[2] = static_cast<double>(p);
    r[3] = static_cast<double>(epoch);
    r[4] = static_cast<double>(base);
    r[5] = static_cast<double>(pos);
    r[6] = static_cast<double>(a);
    r[7] = static_cast<double>(b);
    ++size_;
  }

  // Moves up to max_records records, oldest first, into out; returns how many.
  size_t drain(double* out, size_t max_records) {
    size_t n = size_ < max_records ? size_ : max_records;
    size_t first = capacity_ - head_ < n ? capacity_ - head_ : n;
    std::memcpy(out, &buf_[head_ * kTraceStride], first * kTraceStride * sizeof(double));
    if (n > first) std::memcpy(out + first * kTraceStride, &buf_[0], (n - first) * kTraceStride * sizeof(double));
    head_ += n;
    if (head_ >= capacity_) head_ -= capacity_;
    size_ -= n;
    return n;
  }

 private:
  std::vector<double> buf_;
  size_t capacity_;
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t lost_ = 0;
};

}  // namespace htmqc

#endif  // HTMQC_CORE_TRACE_RING_H_
