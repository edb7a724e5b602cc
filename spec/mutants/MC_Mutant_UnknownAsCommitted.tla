------------------- MODULE MC_Mutant_UnknownAsCommitted -------------------
(***************************************************************************)
(* Known-wrong design: a lost answer is taken for a commit ("the           *)
(* connection dropped after COMMIT, so it went through").  When the write  *)
(* never applied (the connection dropped before COMMIT), the consumer      *)
(* moves its window past the ledger's next and commits that position to    *)
(* Kafka.  Its next writes are refused, so no effect is doubled, but its   *)
(* view and the broker offset run ahead of the ledger.  TLC must refute    *)
(* OffsetOrderInv.                                                         *)
(***************************************************************************)
EXTENDS MCCommon

\* On Unknown: decide Committed without reading the row.
AssumeCommitted(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].answer = Unknown
    /\ local' = [local EXCEPT ![c][p].answer = Committed]
    /\ lastAction' = Label("Recover", <<c, p, 0, 0, Committed>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

MutantSpec == Init /\ [][NextWith(Assign, Succeed, WriteLedger, ApplyWrite, AssumeCommitted)]_vars
=============================================================================
