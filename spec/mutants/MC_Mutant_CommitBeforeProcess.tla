--------------------- MODULE MC_Mutant_CommitBeforeProcess ---------------------
(***************************************************************************)
(* Known-wrong design: commit the offset before processing.  The consumer  *)
(* writes the ledger's next over fetched records as soon as they arrive    *)
(* (auto-commit on poll) and runs the handlers afterwards; a crash, a      *)
(* rebalance or a failure between the two loses those records' effects.   *)
(* TLC must refute NoGapInv: the ledger counts offsets as handled that     *)
(* have no committed outcome.                                              *)
(***************************************************************************)
EXTENDS MCCommon

\* WriteLedger over any fetched prefix, finished or not, carrying no outcomes.
WriteEarly(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].writeUpTo = 0
    /\ \E k \in 1..Len(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
          IN /\ writes' = [writes EXCEPT ![p] = @ \cup {WriteRec(c, l.epoch, l.base, upTo, <<>>, <<>>)}]
             /\ local' = [local EXCEPT ![c][p].writeUpTo = upTo]
             /\ lastAction' = Label("WriteLedger", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

MutantSpec == Init /\ [][NextWith(Assign, Succeed, WriteEarly, ApplyWrite, Recover)]_vars
=============================================================================
