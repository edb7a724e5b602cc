------------------------ MODULE MC_Mutant_NoFencing ------------------------
(***************************************************************************)
(* Known-wrong design: offsets stored with the effects but no fencing.     *)
(* The consumer keeps the offset in the same database as its effects (the *)
(* usual advice) and resumes from it, but the ledger neither issues epochs *)
(* nor compares next: a commit writes the committer's finished records and *)
(* sets next to the end of them.  A zombie that lost its partition in a    *)
(* rebalance commits records the new owner has already committed.          *)
(* TLC must refute NoDuplicateInv.  proofs/ builds the same counterexample *)
(* in Coq.                                                                 *)
(***************************************************************************)
EXTENDS MCCommon

\* Assign reads where to resume but fences nothing.  The token it keeps only
\* marks the partition as held; nobody checks it.
AssignUnfenced(c, p) ==
    /\ alive[c]
    /\ owner[p] = c
    /\ ~Held(c, p)
    /\ local' = [local EXCEPT ![c][p] = LocalRec(1, gen[p], ledger[p].next, <<>>)]
    /\ lastAction' = Label("Assign", <<c, p, 1, ledger[p].next>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Commit trusts the committer's view: no epoch check, no next check.
CommitUnchecked(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
          IN /\ ledger' = [ledger EXCEPT
                   ![p].next = upTo,
                   ![p].effects = @ \o OffsetsIn(l.base, l.win, k, Done),
                   ![p].dlq = @ \o OffsetsIn(l.base, l.win, k, DeadLettered)]
             /\ local' = [local EXCEPT ![c][p].base = upTo,
                                       ![c][p].win = SubSeq(@, k + 1, Len(@))]
             /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

MutantSpec == Init /\ [][NextWith(AssignUnfenced, Succeed, CommitUnchecked)]_vars
=============================================================================
