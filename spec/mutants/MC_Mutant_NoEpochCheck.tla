----------------------- MODULE MC_Mutant_NoEpochCheck -----------------------
(***************************************************************************)
(* One guard removed: the ledger compares next but not the epoch.  The    *)
(* next check alone still prevents duplicate effects, but a zombie of an  *)
(* old epoch can now commit after a newer holder fenced the ledger --      *)
(* exactly what fencing exists to forbid (its work races the new owner's,  *)
(* and its side effects outside the ledger run against a partition it no   *)
(* longer owns).  TLC must refute FencingInv.                              *)
(***************************************************************************)
EXTENDS MCCommon

NextOnly(w, p) == w.expectedNext = ledger[p].next

ApplyNextOnly(p, w) == ApplyWriteWith(p, w, NextOnly)

MutantSpec == Init /\ [][NextWith(Assign, Succeed, WriteLedger, ApplyNextOnly, Recover)]_vars
=============================================================================
