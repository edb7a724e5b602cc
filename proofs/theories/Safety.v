(** * The safety invariants of spec/DCSM.tla hold in every reachable state.

    TLA+: [THEOREM Spec => [](NoDuplicateInv /\ NoGapInv /\ OffsetOrderInv
    /\ FencingInv)], here for every [Params]: any types of partitions and
    consumers, any MaxOffset, Window and MaxRetries. *)

From DCSM Require Import State Step IInv IInvProof.

Section Safety.
Context {params : Params}.

Theorem no_duplicate_inv : forall s, Reachable s -> NoDuplicateInv s.
Proof using. intros s Hr; apply (iinv_ledger_exact s (iinv_reachable s Hr)). Qed.

Theorem no_gap_inv : forall s, Reachable s -> NoGapInv s.
Proof using. intros s Hr; apply (iinv_ledger_exact s (iinv_reachable s Hr)). Qed.

Theorem offset_order_inv : forall s, Reachable s -> OffsetOrderInv s.
Proof using. intros s Hr; apply (iinv_offset_order s (iinv_reachable s Hr)). Qed.

Theorem fencing_inv : forall s, Reachable s -> FencingInv s.
Proof using. intros s Hr; apply (iinv_fencing s (iinv_reachable s Hr)). Qed.

(** [THEOREM Spec => [](TypeOK /\ IInv)]. *)
Theorem typeok_inv : forall s, Reachable s -> TypeOKFacts s.
Proof using. intros s Hr; apply (iinv_typeok s (iinv_reachable s Hr)). Qed.

End Safety.
