(** * IInv is an inductive invariant: it holds initially and every [step]
    preserves it (each conjunct by its own Proof file). *)

From DCSM Require Import State Step IInv TypeOKProof LedgerExactProof
  OutboxPrefixProof OffsetOrderProof FencingProof WindowShapeProof AliveHolderProof
  WriteInFlightProof.

Section IInvProof.
Context {params : Params}.

Lemma iinv_init : IInv init.
Proof using.
  split; [apply typeok_inv_init |].
  split; [apply ledger_exact_inv_init |].
  split; [apply outbox_prefix_inv_init |].
  split; [apply offset_order_inv_init |].
  split; [apply fencing_inv_init |].
  split; [apply window_shape_inv_init |].
  split; [apply alive_holder_inv_init | apply write_in_flight_inv_init].
Qed.

Lemma iinv_step : forall s s', IInv s -> step s s' -> IInv s'.
Proof using.
  intros s s' H Hstep.
  split; [apply (typeok_inv_step s); assumption |].
  split; [apply (ledger_exact_inv_step s); assumption |].
  split; [apply (outbox_prefix_inv_step s); assumption |].
  split; [apply (offset_order_inv_step s); assumption |].
  split; [apply (fencing_inv_step s); assumption |].
  split; [apply (window_shape_inv_step s); assumption |].
  split; [apply (alive_holder_inv_step s); assumption |].
  apply (write_in_flight_inv_step s); assumption.
Qed.

(** Every reachable state satisfies IInv: for every number of partitions,
    consumers, offsets, crashes, retries and rebalances. *)
Theorem iinv_reachable : forall s, Reachable s -> IInv s.
Proof using.
  intros s Hr; induction Hr as [| s s' _ IH Hstep].
  - apply iinv_init.
  - apply (iinv_step s); assumption.
Qed.

End IInvProof.
