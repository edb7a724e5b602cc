-------------------- MODULE MC_Mutant_EffectsOutsideLedger --------------------
(***************************************************************************)
(* Known-wrong design: the handler writes its effects as it succeeds, in   *)
(* its own transaction, and the offset is committed later in another.  A   *)
(* crash between the two makes the next holder process the record again    *)
(* from the ledger's next and write its effects a second time.             *)
(* TLC must refute NoDuplicateInv.  (The config checks that property       *)
(* alone: NoGapInv also breaks, earlier, in the window between the writes.)*)
(***************************************************************************)
EXTENDS MCCommon

\* Succeed applies the effects at once, outside the ledger's transaction.
SucceedAndWrite(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ LET w == local[c][p].win
           h == HeadIndex(w)
           o == local[c][p].base + h - 1
       IN /\ HasHead(w)
          /\ w[h].st = Processing
          /\ local' = [local EXCEPT ![c][p].win[h].st = Done]
          /\ ledger' = [ledger EXCEPT ![p].effects = Append(@, o)]
          /\ lastAction' = Label("Succeed", <<c, p, o>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic, writes>>

\* The ledger write then carries the offset and the dead letters only.
WriteOffsetOnly(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].writeUpTo = 0
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
              w == WriteRec(c, l.epoch, l.base, upTo, <<>>, OffsetsIn(l.base, l.win, k, DeadLettered))
          IN /\ writes' = [writes EXCEPT ![p] = @ \cup {w}]
             /\ local' = [local EXCEPT ![c][p].writeUpTo = upTo]
             /\ lastAction' = Label("WriteLedger", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

MutantSpec == Init /\ [][NextWith(Assign, SucceedAndWrite, WriteOffsetOnly, ApplyWrite, Recover)]_vars
=============================================================================
