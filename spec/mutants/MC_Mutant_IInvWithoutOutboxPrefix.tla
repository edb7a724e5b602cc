------------------ MODULE MC_Mutant_IInvWithoutOutboxPrefix ------------------
(***************************************************************************)
(* Teeth for MC_IInv: IInv without OutboxPrefixInv is NOT inductive.  A    *)
(* state where the dead-letter topic holds a later dead letter but not an  *)
(* earlier one satisfies every other conjunct, and PublishDeadLetter then  *)
(* relays the later one a second time.  TLC must refute NoDuplicateInv --  *)
(* showing that MC_IInv's check can fail, and why the conjunct is there.   *)
(***************************************************************************)
EXTENDS MC_IInv

IInvWithoutOutboxPrefix ==
    /\ TypeOK
    /\ LedgerExactInv
    /\ OffsetOrderInv
    /\ FencingInv
    /\ WindowShapeInv
    /\ AliveHolderInv
    /\ WriteInFlightInv

MutantSpec == InitSatisfying(IInvWithoutOutboxPrefix) /\ [][Next]_vars
=============================================================================
