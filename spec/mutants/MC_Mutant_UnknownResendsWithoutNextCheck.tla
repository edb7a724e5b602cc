--------------- MODULE MC_Mutant_UnknownResendsWithoutNextCheck ---------------
(***************************************************************************)
(* Known-wrong design: retry a ledger write whose answer was lost, without *)
(* reading the row, against a ledger that checks the epoch alone ("the     *)
(* fence already stops zombies").  The first write applied and only its    *)
(* answer was lost; the resend applies the same offsets again.  TLC must   *)
(* refute NoDuplicateInv.  With DCSM's ledger (CommitAccepted compares     *)
(* next too) the blind resend would be refused instead -- safe, but every  *)
(* lost answer of an applied write would then drop the partition; Recover  *)
(* reads the row and needs neither.                                        *)
(***************************************************************************)
EXTENDS MCCommon

\* On Unknown: send the same write again at once, and wait for its answer.
ResendBlind(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].answer = Unknown
    /\ LET l == local[c][p]
           k == l.writeUpTo - l.base
           w == WriteRec(c, l.epoch, l.base, l.writeUpTo,
                         OffsetsIn(l.base, l.win, k, Done),
                         OffsetsIn(l.base, l.win, k, DeadLettered))
       IN /\ writes' = [writes EXCEPT ![p] = @ \cup {w}]
          /\ local' = [local EXCEPT ![c][p].answer = NoAnswer]
          /\ lastAction' = Label("WriteLedger", <<c, p, l.epoch, l.base, l.writeUpTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

EpochOnly(w, p) == w.epoch = ledger[p].epoch

ApplyEpochOnly(p, w) == ApplyWriteWith(p, w, EpochOnly)

MutantSpec == Init /\ [][NextWith(Assign, Succeed, WriteLedger, ApplyEpochOnly, ResendBlind)]_vars
=============================================================================
