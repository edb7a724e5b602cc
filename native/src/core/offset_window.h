// The in-flight window of one partition: a ring of slots whose start is the
// committed watermark (the spec's base).  Fetch appends at the end, Commit
// advances the start by k slots in O(1); capacity is fixed at the spec's
// Window (rounded up to a power of two), so nothing allocates after Assign.
#ifndef HTMQC_CORE_OFFSET_WINDOW_H_
#define HTMQC_CORE_OFFSET_WINDOW_H_

#include <cstdint>
#include <vector>

#include "codes.h"

namespace htmqc {

// Spec: Slot(st, tries).  tries <= MaxRetries + 1 <= 255.
struct Slot {
  OffsetState st;
  uint8_t tries;
};

class OffsetWindow {
 public:
  // Allocates the ring once; a reused window keeps its allocation.
  void reset(uint32_t window) {
    uint32_t cap = 1;
    while (cap < window) cap <<= 1;
    if (ring_.size() != cap) ring_.assign(cap, Slot{OffsetState::Pending, 0});
    mask_ = cap - 1;
    start_ = 0;
    len_ = 0;
  }

  uint32_t size() const { return len_; }

  // Slot i of the window: the slot of offset base + i.  Requires i < size().
  Slot& at(uint32_t i) { return ring_[(start_ + i) & mask_]; }
  const Slot& at(uint32_t i) const { return ring_[(start_ + i) & mask_]; }

  // Spec Fetch, n times: n Pending slots at the end.  Requires size() + n <= Window.
  void push_pending(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) ring_[(start_ + len_ + i) & mask_] = Slot{OffsetState::Pending, 0};
    len_ += n;
  }

  // Spec Commit's SubSeq(win, k + 1, Len(win)): the watermark moves by k.
  void drop_front(uint32_t k) {
    start_ = (start_ + k) & mask_;
    len_ -= k;
  }

 private:
  std::vector<Slot> ring_;
  uint32_t mask_ = 0;
  uint32_t start_ = 0;
  uint32_t len_ = 0;
};

}  // namespace htmqc

#endif  // HTMQC_CORE_OFFSET_WINDOW_H_
