#!/usr/bin/env python3
"""LedgerRead decides from the row's next alone: a zombie fenced after its lost write takes the row for its own and goes on (Recover, FencingInv)."""

from _base import Dcsm, Rejected, serve, NO_ANSWER, UNKNOWN


class Mutant(Dcsm):
    def read(self, h, p, epoch, nxt, out):
        if epoch < h.epoch:
            raise Rejected("StaleEpoch", "row epoch %d is below the held epoch %d" % (epoch, h.epoch))
        if h.answer != UNKNOWN:
            raise Rejected("AnswerNotLost", "LedgerRead without a lost answer")
        if epoch == h.epoch and nxt not in (h.base, h.writing):
            raise Rejected("LedgerNextMismatch", "row next %d is neither %d nor %d" % (nxt, h.base, h.writing))
        if nxt == h.writing:
            self.commit(h, p, out)     # whatever the row's epoch
        elif nxt == h.base:
            h.writing = 0
            h.answer = NO_ANSWER
        else:
            self.rejected(p, out)


if __name__ == "__main__":
    serve(Mutant, "mutant recover_ignores_epoch")
