#!/usr/bin/env python3
"""Assigned is accepted with an epoch it held before: a zombie's stale assignment is not fenced (FencingInv)."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def assigned(self, p, epoch, ledger_next, gen, out):
        self.fence[p] = 0
        super().assigned(p, epoch, ledger_next, gen, out)


if __name__ == "__main__":
    serve(Mutant, "mutant no_epoch_check")
