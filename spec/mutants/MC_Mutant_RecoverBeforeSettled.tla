------------------- MODULE MC_Mutant_RecoverBeforeSettled -------------------
(***************************************************************************)
(* Known-wrong design: read the row as soon as the answer is lost, without *)
(* first making sure the write settled (the runtime does not terminate the *)
(* old database backend).  The row still shows next = expectedNext, so     *)
(* Recover decides "not applied" -- and then the old write applies.  The   *)
(* next check refuses whatever the consumer writes next, so nothing is     *)
(* doubled, but the holder now believes the ledger is where it is not.     *)
(* TLC must refute OffsetOrderInv.  (Without the next check as well, the   *)
(* second write would double the range: MC_Mutant_UnknownResends-          *)
(* WithoutNextCheck shows that half.)                                      *)
(***************************************************************************)
EXTENDS MCCommon

\* Recover without WriteSettled.
RecoverUnsettled(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].answer = Unknown
    /\ LET d == RecoverDecision(local[c][p], ledger[p]) IN
          /\ local' = [local EXCEPT ![c][p].answer = d,
                                    ![c][p].writeUpTo = IF d = NoAnswer THEN 0 ELSE @]
          /\ lastAction' = Label("Recover", <<c, p, ledger[p].epoch, ledger[p].next, d>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

MutantSpec == Init /\ [][NextWith(Assign, Succeed, WriteLedger, ApplyWrite, RecoverUnsettled)]_vars
=============================================================================
