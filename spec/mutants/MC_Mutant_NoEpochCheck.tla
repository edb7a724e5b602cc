----------------------- MODULE MC_Mutant_NoEpochCheck -----------------------
(***************************************************************************)
(* One guard removed: Commit compares next but not the epoch.  The next   *)
(* check alone still prevents duplicate effects, but a zombie of an old    *)
(* epoch can now commit after a newer holder fenced the ledger -- exactly  *)
(* what fencing exists to forbid (its work races the new owner's, and its  *)
(* side effects outside the ledger run against a partition it no longer    *)
(* owns).  TLC must refute FencingInv.                                     *)
(***************************************************************************)
EXTENDS MCCommon

CommitNextOnly(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].base = ledger[p].next
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
          IN /\ ledger' = [ledger EXCEPT
                   ![p].next = upTo,
                   ![p].writer = l.epoch,
                   ![p].effects = @ \o OffsetsIn(l.base, l.win, k, Done),
                   ![p].dlq = @ \o OffsetsIn(l.base, l.win, k, DeadLettered)]
             /\ local' = [local EXCEPT ![c][p].base = upTo,
                                       ![c][p].win = SubSeq(@, k + 1, Len(@))]
             /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

MutantSpec == Init /\ [][NextWith(Assign, Succeed, CommitNextOnly)]_vars
=============================================================================
