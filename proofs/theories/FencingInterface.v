(** * FencingInv: no commit by a stale epoch is ever accepted. *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section FencingInterface.
Context {params : Params}.

(** [EpochIssuedOK(l, p)]: no consumer holds an epoch the ledger has not
    issued. *)
Definition EpochIssuedOK (s : State) (l : LocalRec) (p : Partition) : Prop :=
  loc_epoch l <= epoch (ledger s p).

Definition FencingInv (s : State) : Prop :=
  forall p,
    (writer (ledger s p) = 0 \/ writer (ledger s p) = epoch (ledger s p)) /\
    (forall c, EpochIssuedOK s (local s c p) p) /\
    (forall w, In w (writes s p) -> wr_epoch w <= epoch (ledger s p)) /\
    (forall c d, c <> d -> Held s c p -> Held s d p ->
       loc_epoch (local s c p) <> loc_epoch (local s d p)).

End FencingInterface.
