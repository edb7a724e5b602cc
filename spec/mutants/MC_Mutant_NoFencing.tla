------------------------ MODULE MC_Mutant_NoFencing ------------------------
(***************************************************************************)
(* Known-wrong design: offsets stored with the effects but no fencing.     *)
(* The consumer keeps the offset in the same database as its effects (the *)
(* usual advice) and resumes from it, but the ledger neither issues epochs *)
(* nor compares next: a write appends the writer's finished records and    *)
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
    /\ local' = [local EXCEPT ![c][p] = LocalRec(1, gen[p], ledger[p].next, <<>>, 0, NoAnswer)]
    /\ lastAction' = Label("Assign", <<c, p, 1, ledger[p].next>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

\* The ledger trusts the writer's view: no epoch check, no next check.
Unchecked(w, p) == TRUE

ApplyUnchecked(p, w) == ApplyWriteWith(p, w, Unchecked)

MutantSpec == Init /\ [][NextWith(AssignUnfenced, Succeed, WriteLedger, ApplyUnchecked, Recover)]_vars
=============================================================================
