(** * Negative checks: three known-wrong designs violate NoDuplicateInv.

    Each shows that the statement of NoDuplicateInv is not vacuous and that
    the ledger's acceptance test (or Recover's read of the row) is what the
    proof of [no_duplicate_inv] relies on.  Every mutant is an instance of
    [next_with], the Coq rendering of spec/DCSM.tla's [NextWith(AssignA,
    Succeed, WriteLedger, ApplyA, RecoverA)]: the DCSM with Assign, the
    database's ApplyWrite and Recover swapped for the mutant's
    ([next_with_dcsm]: with the DCSM's own three, it is [step]).

    - [NoFencing]: spec/mutants/MC_Mutant_NoFencing.tla
      ([NextWith(AssignUnfenced, Succeed, WriteLedger, ApplyUnchecked,
      Recover)]): Assign issues no epoch, and the database applies every
      write.
    - [NoCommitCheck]: the DCSM with the acceptance test of ApplyWrite
      removed ([NextWith(Assign, Succeed, WriteLedger, ApplyUnchecked,
      Recover)]): Assign still fences, but the database applies a write
      whatever its epoch and expectedNext.
    - [UnknownResends]:
      spec/mutants/MC_Mutant_UnknownResendsWithoutNextCheck.tla
      ([NextWith(Assign, Succeed, WriteLedger, ApplyEpochOnly,
      ResendBlind)]): a lost answer is followed by the same write sent again
      without reading the row, to a database that checks the epoch alone. *)

From Coq Require Import List Arith Bool Lia.
Import ListNotations.
From DCSM Require Import State Step IInv.

(** ** NextWith *)

Section NextWith.
Context {params : Params}.

(** The DCSM's three swappable actions, as relations. *)
Inductive AssignStep : State -> State -> Prop :=
| assign_step : forall s c p,
    alive s c = true -> owner s p = Some c -> ~ Held s c p ->
    AssignStep s (assign s c p).

(** [ApplyWriteWith(p, w, AcceptA)] for an acceptance test [acc]. *)
Inductive ApplyStep (acc : State -> WriteRec -> Partition -> bool) : State -> State -> Prop :=
| apply_step : forall s p w,
    In w (writes s p) -> ApplyStep acc s (apply_write_with acc s p w).

Inductive RecoverStep : State -> State -> Prop :=
| recover_step : forall s c p,
    alive s c = true -> Held s c p -> answer (local s c p) = Unknown ->
    WriteSettled s p (loc_epoch (local s c p)) ->
    RecoverStep s (recover s c p).

(** [step] of Step.v with Assign, ApplyWrite and Recover replaced by
    [AssignA], [ApplyA] and [RecoverA]; the other constructors are copied
    unchanged. *)
Inductive next_with (AssignA ApplyA RecoverA : State -> State -> Prop) :
  State -> State -> Prop :=
| NW_Produce : forall s p,
    log s p < MaxOffset -> next_with AssignA ApplyA RecoverA s (produce s p)
| NW_Rebalance : forall s p oc,
    oc <> None \/ owner s p <> None -> next_with AssignA ApplyA RecoverA s (rebalance s p oc)
| NW_Crash : forall s c,
    alive s c = true -> next_with AssignA ApplyA RecoverA s (crash s c)
| NW_Restart : forall s c,
    alive s c = false -> next_with AssignA ApplyA RecoverA s (restart s c)
| NW_Assign : forall s s',
    AssignA s s' -> next_with AssignA ApplyA RecoverA s s'
| NW_Revoke : forall s c p,
    alive s c = true -> Held s c p ->
    owner s p <> Some c \/ gen s p <> loc_gen (local s c p) ->
    next_with AssignA ApplyA RecoverA s (revoke s c p)
| NW_Fetch : forall s c p,
    alive s c = true -> Held s c p -> Position s c p < log s p ->
    length (win (local s c p)) < Window ->
    next_with AssignA ApplyA RecoverA s (fetch s c p)
| NW_Begin : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Pending ->
    next_with AssignA ApplyA RecoverA s (begin s c p)
| NW_Succeed : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Processing ->
    next_with AssignA ApplyA RecoverA s (succeed s c p)
| NW_Fail : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Processing ->
    next_with AssignA ApplyA RecoverA s (fail s c p)
| NW_Retry : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Failed ->
    tries sl <= MaxRetries ->
    next_with AssignA ApplyA RecoverA s (retry s c p)
| NW_DeadLetter : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Failed ->
    MaxRetries < tries sl ->
    next_with AssignA ApplyA RecoverA s (dead_letter s c p)
| NW_WriteLedger : forall s c p k,
    alive s c = true -> Held s c p -> writeUpTo (local s c p) = 0 ->
    1 <= k <= FinishedPrefixLen (win (local s c p)) ->
    next_with AssignA ApplyA RecoverA s (write_ledger s c p k)
| NW_ApplyWrite : forall s s',
    ApplyA s s' -> next_with AssignA ApplyA RecoverA s s'
| NW_AbortWrite : forall s p w,
    In w (writes s p) -> ~ AwaitsAnswer s w p ->
    next_with AssignA ApplyA RecoverA s (abort_write s p w)
| NW_LoseAnswer : forall s c p,
    alive s c = true -> Held s c p -> writeUpTo (local s c p) <> 0 ->
    answer (local s c p) <> Unknown ->
    next_with AssignA ApplyA RecoverA s (lose_answer s c p)
| NW_Recover : forall s s',
    RecoverA s s' -> next_with AssignA ApplyA RecoverA s s'
| NW_Commit : forall s c p,
    alive s c = true -> Held s c p -> answer (local s c p) = Committed ->
    next_with AssignA ApplyA RecoverA s (commit s c p)
| NW_CommitRejected : forall s c p,
    alive s c = true -> Held s c p -> answer (local s c p) = Rejected ->
    next_with AssignA ApplyA RecoverA s (commit_rejected s c p)
| NW_CommitBroker : forall s c p,
    alive s c = true -> Held s c p -> owner s p = Some c ->
    gen s p = loc_gen (local s c p) -> brokerOffset s p <> base (local s c p) ->
    next_with AssignA ApplyA RecoverA s (commit_broker s c p)
| NW_PublishDeadLetter : forall s p,
    length (dlqTopic s p) < length (dlq (ledger s p)) ->
    next_with AssignA ApplyA RecoverA s (publish_dead_letter s p).

Inductive ReachableWith (AssignA ApplyA RecoverA : State -> State -> Prop) : State -> Prop :=
| reachable_with_init : ReachableWith AssignA ApplyA RecoverA init
| reachable_with_step : forall s s',
    ReachableWith AssignA ApplyA RecoverA s -> next_with AssignA ApplyA RecoverA s s' ->
    ReachableWith AssignA ApplyA RecoverA s'.

(** [Next == NextWith(Assign, Succeed, WriteLedger, ApplyWrite, Recover)]. *)
Lemma next_with_dcsm : forall s s',
  step s s' <-> next_with AssignStep (ApplyStep commit_accepted_b) RecoverStep s s'.
Proof using.
  intros s s'; split.
  - intros Hs; destruct Hs;
      first [ apply NW_Assign; constructor; assumption
            | apply NW_ApplyWrite; constructor; assumption
            | apply NW_Recover; constructor; assumption
            | econstructor; eassumption ].
  - intros Hs; destruct Hs as [| | | | s s' Ha | | | | | | | | | s s' Ha | | | s s' Ha | | | |];
      try (destruct Ha); econstructor; eassumption.
Qed.

(** The mutants' acceptance tests and actions. *)

(** [Unchecked(w, p) == TRUE]. *)
Definition unchecked (s : State) (w : WriteRec) (p : Partition) : bool := true.

(** [EpochOnly(w, p) == w.epoch = ledger[p].epoch]. *)
Definition epoch_only (s : State) (w : WriteRec) (p : Partition) : bool :=
  Nat.eqb (wr_epoch w) (epoch (ledger s p)).

(** [AssignUnfenced]: reads where to resume, fences nothing; the token 1 only
    marks the partition as held. *)
Definition assign_unfenced (s : State) (c : Consumer) (p : Partition) : State :=
  set_local_cp s c p (mkLocal 1 (gen s p) (next (ledger s p)) [] 0 NoAnswer).

Inductive AssignUnfencedStep : State -> State -> Prop :=
| assign_unfenced_step : forall s c p,
    alive s c = true -> owner s p = Some c -> ~ Held s c p ->
    AssignUnfencedStep s (assign_unfenced s c p).

(** [ResendBlind]: on Unknown, the same write again at once, and wait for
    its answer. *)
Definition resend_write (c : Consumer) (l : LocalRec) : WriteRec :=
  let k := writeUpTo l - base l in
  mkWrite c (loc_epoch l) (base l) (writeUpTo l)
    (OffsetsIn (base l) (win l) k Done) (OffsetsIn (base l) (win l) k DeadLettered).

Definition resend_blind (s : State) (c : Consumer) (p : Partition) : State :=
  let l := local s c p in
  set_local_cp (set_writes s (upd_p (writes s) p (resend_write c l :: writes s p))) c p
    (with_answer l NoAnswer).

Inductive ResendBlindStep : State -> State -> Prop :=
| resend_blind_step : forall s c p,
    alive s c = true -> Held s c p -> answer (local s c p) = Unknown ->
    ResendBlindStep s (resend_blind s c p).

End NextWith.

Module NoFencing.
Definition step `{Params} := next_with AssignUnfencedStep (ApplyStep unchecked) RecoverStep.
Definition Reachable `{Params} := ReachableWith AssignUnfencedStep (ApplyStep unchecked) RecoverStep.
End NoFencing.

Module NoCommitCheck.
Definition step `{Params} := next_with AssignStep (ApplyStep unchecked) RecoverStep.
Definition Reachable `{Params} := ReachableWith AssignStep (ApplyStep unchecked) RecoverStep.
End NoCommitCheck.

Module UnknownResends.
Definition step `{Params} := next_with AssignStep (ApplyStep epoch_only) ResendBlindStep.
Definition Reachable `{Params} := ReachableWith AssignStep (ApplyStep epoch_only) ResendBlindStep.
End UnknownResends.

(** ** The concrete instance *)

Definition unit_eq_dec (x y : unit) : {x = y} + {x <> y}.
Proof. decide equality. Defined.

Definition bool_eq_dec (x y : bool) : {x = y} + {x <> y}.
Proof. decide equality. Defined.

(** Bounds as small as the traces allow: one offset, a window of one slot. *)
#[local] Instance zombie_params : Params := {|
  Partition := unit;
  Consumer := bool;
  partition_eq_dec := unit_eq_dec;
  consumer_eq_dec := bool_eq_dec;
  MaxOffset := 1;
  Window := 1;
  MaxRetries := 0
|}.

Definition p0 : Partition := tt.
Definition c1 : Consumer := true.
Definition c2 : Consumer := false.

(** Every guard on a trace is a closed computation. *)
Ltac trace_guard :=
  vm_compute; first [reflexivity | discriminate | lia | tauto |
                     (left; reflexivity) | (left; discriminate) |
                     (intros H; apply H; reflexivity) |
                     (intros (H & _); discriminate)].

(** Offset 0 committed twice. *)
Lemma effects_twice_violates : forall s,
  effects (ledger s p0) = [0; 0] -> ~ NoDuplicateInv s.
Proof.
  intros s He H; destruct (H p0) as [Hnd _]; rewrite He in Hnd.
  inversion Hnd as [| x l Hx _]; apply Hx; left; reflexivity.
Qed.

(** ** The zombie trace, in NoFencing and in NoCommitCheck

    c1 is assigned and processes offset 0; a rebalance gives the partition
    to c2, which is assigned, processes offset 0, writes it, has it applied
    and takes the answer (Commit); zombie c1 then writes offset 0 too, and
    the database applies it. *)

Module NoFencingTrace.

Definition s1 := produce init p0.
Definition s2 := rebalance s1 p0 (Some c1).   (* the coordinator gives p0 to c1 *)
Definition s3 := assign_unfenced s2 c1 p0.    (* c1 resumes at next = 0 *)
Definition s4 := fetch s3 c1 p0.              (* offset 0 *)
Definition s5 := begin s4 c1 p0.
Definition s6 := succeed s5 c1 p0.            (* offset 0 is Done in c1's window *)
Definition s7 := rebalance s6 p0 (Some c2).   (* c1 is now a zombie *)
Definition s8 := assign_unfenced s7 c2 p0.    (* c2 resumes at next = 0 *)
Definition s9 := fetch s8 c2 p0.
Definition s10 := begin s9 c2 p0.
Definition s11 := succeed s10 c2 p0.
Definition w2 := write_of c2 (local s11 c2 p0) 1.
Definition s12 := write_ledger s11 c2 p0 1.   (* c2 sends offset 0 *)
Definition s13 := apply_write_with unchecked s12 p0 w2.  (* applied: next = 1 *)
Definition s14 := commit s13 c2 p0.           (* c2 takes LedgerCommitted *)
Definition w1 := write_of c1 (local s14 c1 p0) 1.
Definition s15 := write_ledger s14 c1 p0 1.   (* zombie c1 sends offset 0 *)
Definition s16 := apply_write_with unchecked s15 p0 w1.  (* applied again *)

Lemma trace_reachable : NoFencing.Reachable s16.
Proof.
  unfold NoFencing.Reachable.
  apply (reachable_with_step _ _ _ s15); [| apply NW_ApplyWrite; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s14); [| apply NW_WriteLedger; trace_guard].
  apply (reachable_with_step _ _ _ s13); [| apply NW_Commit; trace_guard].
  apply (reachable_with_step _ _ _ s12); [| apply NW_ApplyWrite; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s11); [| apply NW_WriteLedger; trace_guard].
  apply (reachable_with_step _ _ _ s10); [| eapply NW_Succeed; trace_guard].
  apply (reachable_with_step _ _ _ s9); [| eapply NW_Begin; trace_guard].
  apply (reachable_with_step _ _ _ s8); [| apply NW_Fetch; trace_guard].
  apply (reachable_with_step _ _ _ s7); [| apply NW_Assign; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s6); [| apply NW_Rebalance; trace_guard].
  apply (reachable_with_step _ _ _ s5); [| eapply NW_Succeed; trace_guard].
  apply (reachable_with_step _ _ _ s4); [| eapply NW_Begin; trace_guard].
  apply (reachable_with_step _ _ _ s3); [| apply NW_Fetch; trace_guard].
  apply (reachable_with_step _ _ _ s2); [| apply NW_Assign; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s1); [| apply NW_Rebalance; trace_guard].
  apply (reachable_with_step _ _ _ init); [| apply NW_Produce; trace_guard].
  apply reachable_with_init.
Qed.

Lemma trace_effects : effects (ledger s16 p0) = [0; 0].
Proof. vm_compute; reflexivity. Qed.

End NoFencingTrace.

Theorem no_fencing_mutant_violates_NoDuplicateInv :
  NoFencing.Reachable NoFencingTrace.s16 /\ ~ NoDuplicateInv NoFencingTrace.s16.
Proof.
  split; [exact NoFencingTrace.trace_reachable |].
  apply effects_twice_violates, NoFencingTrace.trace_effects.
Qed.

Module NoCommitCheckTrace.

Definition s1 := produce init p0.
Definition s2 := rebalance s1 p0 (Some c1).
Definition s3 := assign s2 c1 p0.             (* c1 fences: epoch 1, base 0 *)
Definition s4 := fetch s3 c1 p0.
Definition s5 := begin s4 c1 p0.
Definition s6 := succeed s5 c1 p0.
Definition s7 := rebalance s6 p0 (Some c2).
Definition s8 := assign s7 c2 p0.             (* c2 fences: epoch 2, base 0 *)
Definition s9 := fetch s8 c2 p0.
Definition s10 := begin s9 c2 p0.
Definition s11 := succeed s10 c2 p0.
Definition w2 := write_of c2 (local s11 c2 p0) 1.
Definition s12 := write_ledger s11 c2 p0 1.
Definition s13 := apply_write_with unchecked s12 p0 w2.  (* epoch 2, expects 0: as in the DCSM *)
Definition s14 := commit s13 c2 p0.
Definition w1 := write_of c1 (local s14 c1 p0) 1.
Definition s15 := write_ledger s14 c1 p0 1.   (* stale epoch 1, expects 0 < next 1 *)
Definition s16 := apply_write_with unchecked s15 p0 w1.

Lemma trace_reachable : NoCommitCheck.Reachable s16.
Proof.
  unfold NoCommitCheck.Reachable.
  apply (reachable_with_step _ _ _ s15); [| apply NW_ApplyWrite; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s14); [| apply NW_WriteLedger; trace_guard].
  apply (reachable_with_step _ _ _ s13); [| apply NW_Commit; trace_guard].
  apply (reachable_with_step _ _ _ s12); [| apply NW_ApplyWrite; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s11); [| apply NW_WriteLedger; trace_guard].
  apply (reachable_with_step _ _ _ s10); [| eapply NW_Succeed; trace_guard].
  apply (reachable_with_step _ _ _ s9); [| eapply NW_Begin; trace_guard].
  apply (reachable_with_step _ _ _ s8); [| apply NW_Fetch; trace_guard].
  apply (reachable_with_step _ _ _ s7); [| apply NW_Assign; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s6); [| apply NW_Rebalance; trace_guard].
  apply (reachable_with_step _ _ _ s5); [| eapply NW_Succeed; trace_guard].
  apply (reachable_with_step _ _ _ s4); [| eapply NW_Begin; trace_guard].
  apply (reachable_with_step _ _ _ s3); [| apply NW_Fetch; trace_guard].
  apply (reachable_with_step _ _ _ s2); [| apply NW_Assign; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s1); [| apply NW_Rebalance; trace_guard].
  apply (reachable_with_step _ _ _ init); [| apply NW_Produce; trace_guard].
  apply reachable_with_init.
Qed.

Lemma trace_effects : effects (ledger s16 p0) = [0; 0].
Proof. vm_compute; reflexivity. Qed.

(** In the DCSM c2's write is accepted (so s13 is the DCSM's ApplyWrite
    too) and the zombie's is refused (its epoch is not the ledger's, and it
    does not expect the ledger's next): ApplyWrite answers it Rejected and
    s16 is not reached. *)
Lemma owner_write_accepted : CommitAccepted s12 w2 p0.
Proof. vm_compute; split; reflexivity. Qed.

Lemma zombie_commit_not_accepted : ~ CommitAccepted s15 w1 p0.
Proof. vm_compute; intros [H _]; discriminate. Qed.

End NoCommitCheckTrace.

Theorem no_commit_check_mutant_violates_NoDuplicateInv :
  NoCommitCheck.Reachable NoCommitCheckTrace.s16 /\ ~ NoDuplicateInv NoCommitCheckTrace.s16.
Proof.
  split; [exact NoCommitCheckTrace.trace_reachable |].
  apply effects_twice_violates, NoCommitCheckTrace.trace_effects.
Qed.

(** ** The lost-answer trace, in UnknownResends

    One consumer, no rebalance: c1 is assigned, processes offset 0 and
    writes it; the connection drops (LoseAnswer) and the database applies
    the write anyway (no answer: c1 awaits none); c1 sends the same write
    again without reading the row, and the database, which checks the epoch
    alone, applies it again. *)

Module UnknownResendsTrace.

Definition s1 := produce init p0.
Definition s2 := rebalance s1 p0 (Some c1).
Definition s3 := assign s2 c1 p0.             (* epoch 1, base 0 *)
Definition s4 := fetch s3 c1 p0.
Definition s5 := begin s4 c1 p0.
Definition s6 := succeed s5 c1 p0.
Definition w := write_of c1 (local s6 c1 p0) 1.
Definition s7 := write_ledger s6 c1 p0 1.     (* WriteLedger(p0, 1, 0, 1) *)
Definition s8 := lose_answer s7 c1 p0.        (* LedgerUnknown *)
Definition s9 := apply_write_with epoch_only s8 p0 w.    (* applied: next = 1 *)
Definition w' := resend_write c1 (local s9 c1 p0).
Definition s10 := resend_blind s9 c1 p0.      (* the same write, sent blind *)
Definition s11 := apply_write_with epoch_only s10 p0 w'. (* epoch 1 = 1: applied again *)

Lemma trace_reachable : UnknownResends.Reachable s11.
Proof.
  unfold UnknownResends.Reachable.
  apply (reachable_with_step _ _ _ s10); [| apply NW_ApplyWrite; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s9); [| apply NW_Recover; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s8); [| apply NW_ApplyWrite; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s7); [| apply NW_LoseAnswer; trace_guard].
  apply (reachable_with_step _ _ _ s6); [| apply NW_WriteLedger; trace_guard].
  apply (reachable_with_step _ _ _ s5); [| eapply NW_Succeed; trace_guard].
  apply (reachable_with_step _ _ _ s4); [| eapply NW_Begin; trace_guard].
  apply (reachable_with_step _ _ _ s3); [| apply NW_Fetch; trace_guard].
  apply (reachable_with_step _ _ _ s2); [| apply NW_Assign; constructor; trace_guard].
  apply (reachable_with_step _ _ _ s1); [| apply NW_Rebalance; trace_guard].
  apply (reachable_with_step _ _ _ init); [| apply NW_Produce; trace_guard].
  apply reachable_with_init.
Qed.

Lemma trace_effects : effects (ledger s11 p0) = [0; 0].
Proof. vm_compute; reflexivity. Qed.

(** The resent write is the first one again, and in the DCSM it would be
    refused: it expects next 0, the row is at 1.  The DCSM's Recover reads
    the row instead and decides Committed (the row is at the write's upTo
    under c1's epoch). *)
Lemma resend_is_same_write : w' = w.
Proof. vm_compute; reflexivity. Qed.

Lemma resend_not_accepted : ~ CommitAccepted s10 w' p0.
Proof. vm_compute; intros [_ H]; discriminate. Qed.

Lemma recover_decides_committed : RecoverDecision (local s9 c1 p0) (ledger s9 p0) = Committed.
Proof. vm_compute; reflexivity. Qed.

End UnknownResendsTrace.

Theorem unknown_resends_mutant_violates_NoDuplicateInv :
  UnknownResends.Reachable UnknownResendsTrace.s11 /\ ~ NoDuplicateInv UnknownResendsTrace.s11.
Proof.
  split; [exact UnknownResendsTrace.trace_reachable |].
  apply effects_twice_violates, UnknownResendsTrace.trace_effects.
Qed.
