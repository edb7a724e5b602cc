#!/usr/bin/env python3
"""LedgerUnknown sends the same write again instead of reading the row: a write may apply twice (spec MC_Mutant_UnknownResendsWithoutNextCheck, NoDuplicateInv)."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def lost(self, h, p, out):
        self.answered(h, "LedgerUnknown")
        out.append({"kind": "WriteLedger", "p": p, "epoch": h.epoch, "expectedNext": h.base, "upTo": h.writing})


if __name__ == "__main__":
    serve(Mutant, "mutant unknown_resends_without_read")
