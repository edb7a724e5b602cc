(** * NoDuplicateInv, NoGapInv and LedgerExactInv.

    [NoRepeats(s)] is [NoDup s]; the range equality of NoGapInv is stated
    pointwise: an offset is in [effects \o dlq] iff it is below [next]. *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section LedgerExactInterface.
Context {params : Params}.

(** Each offset's outcome is committed at most once, and the dead-letter topic
    holds each dead letter at most once. *)
Definition NoDuplicateInv (s : State) : Prop :=
  forall p,
    NoDup (effects (ledger s p) ++ dlq (ledger s p)) /\
    NoDup (dlqTopic s p).

(** The ledger holds an outcome for exactly the offsets below its next, and
    the dead-letter topic holds only committed dead letters. *)
Definition NoGapInv (s : State) : Prop :=
  forall p,
    (forall o, In o (effects (ledger s p) ++ dlq (ledger s p)) <-> o < next (ledger s p)) /\
    (forall o, In o (dlqTopic s p) -> In o (dlq (ledger s p))).

Definition LedgerExactInv (s : State) : Prop := NoDuplicateInv s /\ NoGapInv s.

End LedgerExactInterface.
