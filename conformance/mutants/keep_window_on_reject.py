#!/usr/bin/env python3
"""LedgerRejected does not drop the partition: a fenced zombie keeps handling records (CommitRejected)."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def step(self, inp):
        if isinstance(inp, dict) and inp.get("kind") == "LedgerRejected":
            self.validate(inp)
            h = self.holding(inp["p"])
            self.answered(h, "LedgerRejected")
            h.writing = 0
            return [{"kind": "Pause", "p": inp["p"]}]
        return super().step(inp)


if __name__ == "__main__":
    serve(Mutant, "mutant keep_window_on_reject")
