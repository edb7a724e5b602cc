--------------------- MODULE MC_Mutant_CommitBeforeProcess ---------------------
(***************************************************************************)
(* Known-wrong design: commit the offset before processing.  The consumer  *)
(* advances the ledger's next over fetched records as soon as they arrive  *)
(* (auto-commit on poll) and runs the handlers afterwards; a crash, a      *)
(* rebalance or a failure between the two loses those records' effects.   *)
(* TLC must refute NoGapInv: the ledger counts offsets as handled that     *)
(* have no committed outcome.                                              *)
(***************************************************************************)
EXTENDS MCCommon

CommitEarly(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ CommitAccepted(c, p)
    /\ \E k \in 1..Len(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
          IN /\ ledger' = [ledger EXCEPT ![p].next = upTo, ![p].writer = l.epoch]
             /\ local' = [local EXCEPT ![c][p].base = upTo,
                                       ![c][p].win = SubSeq(@, k + 1, Len(@))]
             /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

MutantSpec == Init /\ [][NextWith(Assign, Succeed, CommitEarly)]_vars
=============================================================================
