(** * OffsetOrderInv: broker offset <= ledger next <= log end, and the
    holder of the current epoch starts its window at the ledger's next, or,
    while the answer to its applied write has not reached it, has that
    write's upTo at the ledger's next. *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section OffsetOrderInterface.
Context {params : Params}.

(** [HolderOrderOK(l, p)]: the per-consumer part, for one view [l] of [p]
    ([l.base + Len(l.win)] is [Position]). *)
Definition HolderOrderOK (s : State) (l : LocalRec) (p : Partition) : Prop :=
  loc_epoch l <> 0 ->
    base l <= next (ledger s p) /\
    base l + length (win l) <= log s p /\
    (loc_epoch l = epoch (ledger s p) ->
       base l = next (ledger s p) \/
       (writeUpTo l <> 0 /\ writeUpTo l = next (ledger s p))).

Definition OffsetOrderInv (s : State) : Prop :=
  forall p,
    brokerOffset s p <= next (ledger s p) /\
    next (ledger s p) <= log s p /\
    (forall c, HolderOrderOK s (local s c p) p).

End OffsetOrderInterface.
