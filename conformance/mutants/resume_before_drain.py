#!/usr/bin/env python3
"""Resumes a paused partition when a handler succeeds, before a Commit frees a slot: the window overflows."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def succeeded(self, h, p, o, out):
        super().succeeded(h, p, o, out)
        if h.paused:
            h.paused = False
            out.append({"kind": "Resume", "p": p})


if __name__ == "__main__":
    serve(Mutant, "mutant resume_before_drain")
