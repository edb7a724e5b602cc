(** * IInv: the inductive invariant, conjunct by conjunct as in
    spec/DCSM.tla (see proofs/README.md for the correspondence). *)

From DCSM Require Import State Step.
From DCSM Require Export TypeOKInterface LedgerExactInterface OutboxPrefixInterface
  OffsetOrderInterface FencingInterface WindowShapeInterface AliveHolderInterface
  WriteInFlightInterface.

Section IInv.
Context {params : Params}.

Definition IInv (s : State) : Prop :=
  TypeOKFacts s /\
  LedgerExactInv s /\
  OutboxPrefixInv s /\
  OffsetOrderInv s /\
  FencingInv s /\
  WindowShapeInv s /\
  AliveHolderInv s /\
  WriteInFlightInv s.

(** Projections, so that each proof names the conjunct it uses. *)
Lemma iinv_typeok : forall s, IInv s -> TypeOKFacts s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_ledger_exact : forall s, IInv s -> LedgerExactInv s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_outbox_prefix : forall s, IInv s -> OutboxPrefixInv s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_offset_order : forall s, IInv s -> OffsetOrderInv s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_fencing : forall s, IInv s -> FencingInv s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_window_shape : forall s, IInv s -> WindowShapeInv s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_alive_holder : forall s, IInv s -> AliveHolderInv s.
Proof using. intros s H; apply H. Qed.
Lemma iinv_write_in_flight : forall s, IInv s -> WriteInFlightInv s.
Proof using. intros s H; apply H. Qed.

End IInv.
