(** * Negative checks: two known-wrong ledgers violate NoDuplicateInv.

    Both show that the statement of NoDuplicateInv is not vacuous and that
    the ledger's acceptance test is what the proof of [no_duplicate_inv]
    relies on.  One concrete trace, two consumers and one partition, breaks
    both: c1 is assigned and processes offset 0; a rebalance gives the
    partition to c2, which is assigned, processes offset 0 and commits it;
    zombie c1 then commits offset 0 again.

    - [NoFencing]: spec/mutants/MC_Mutant_NoFencing.tla, action for action
      ([NextWith(AssignUnfenced, Succeed, CommitUnchecked)]): the ledger
      neither issues epochs nor compares next.
    - [NoCommitCheck]: the DCSM with Commit's acceptance test removed: Assign
      still fences (c2 gets a new epoch), but the ledger appends the
      committer's finished prefix and sets [next := base + k], trusting the
      consumer's view. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step IInv.

(** ** NoFencing (spec/mutants/MC_Mutant_NoFencing.tla) *)

Module NoFencing.
Section NoFencing.
Context {params : Params}.

(** [AssignUnfenced]: reads where to resume, fences nothing; the token 1 only
    marks the partition as held. *)
Definition assign_unfenced (s : State) (c : Consumer) (p : Partition) : State :=
  set_local_cp s c p (mkLocal 1 (gen s p) (next (ledger s p)) []).

(** [CommitUnchecked]: next, effects and dlq as in Commit; epoch and writer
    untouched. *)
Definition commit_unchecked_ledger (L : LedgerRec) (l : LocalRec) (k : nat) : LedgerRec :=
  mkLedger (base l + k) (epoch L) (writer L)
    (effects L ++ OffsetsIn (base l) (win l) k Done)
    (dlq L ++ OffsetsIn (base l) (win l) k DeadLettered).

Definition commit_unchecked (s : State) (c : Consumer) (p : Partition) (k : nat) : State :=
  let l := local s c p in
  set_local_cp (set_ledger s (upd_p (ledger s) p (commit_unchecked_ledger (ledger s p) l k)))
    c p (commit_local l k).

(** [step] of Step.v with Assign and Commit swapped; the other constructors
    are copied unchanged. *)
Inductive step : State -> State -> Prop :=
| Produce : forall s p,
    log s p < MaxOffset -> step s (produce s p)
| Rebalance : forall s p oc,
    oc <> None \/ owner s p <> None -> step s (rebalance s p oc)
| Crash : forall s c,
    alive s c = true -> step s (crash s c)
| Restart : forall s c,
    alive s c = false -> step s (restart s c)
| AssignUnfenced : forall s c p,
    alive s c = true -> owner s p = Some c -> ~ Held s c p ->
    step s (assign_unfenced s c p)
| Revoke : forall s c p,
    alive s c = true -> Held s c p ->
    owner s p <> Some c \/ gen s p <> loc_gen (local s c p) ->
    step s (revoke s c p)
| Fetch : forall s c p,
    alive s c = true -> Held s c p -> Position s c p < log s p ->
    length (win (local s c p)) < Window ->
    step s (fetch s c p)
| Begin : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Pending ->
    step s (begin s c p)
| Succeed : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Processing ->
    step s (succeed s c p)
| Fail : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Processing ->
    step s (fail s c p)
| Retry : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Failed ->
    tries sl <= MaxRetries ->
    step s (retry s c p)
| DeadLetter : forall s c p sl,
    alive s c = true -> Held s c p ->
    head_slot (win (local s c p)) = Some sl -> st sl = Failed ->
    MaxRetries < tries sl ->
    step s (dead_letter s c p)
| CommitUnchecked : forall s c p k,
    alive s c = true -> Held s c p ->
    1 <= k <= FinishedPrefixLen (win (local s c p)) ->
    step s (commit_unchecked s c p k)
| CommitRejected : forall s c p,
    alive s c = true -> Held s c p -> ~ CommitAccepted s c p ->
    0 < FinishedPrefixLen (win (local s c p)) ->
    step s (commit_rejected s c p)
| CommitBroker : forall s c p,
    alive s c = true -> Held s c p -> owner s p = Some c ->
    gen s p = loc_gen (local s c p) -> brokerOffset s p <> base (local s c p) ->
    step s (commit_broker s c p)
| PublishDeadLetter : forall s p,
    length (dlqTopic s p) < length (dlq (ledger s p)) ->
    step s (publish_dead_letter s p).

Inductive Reachable : State -> Prop :=
| reachable_init : Reachable init
| reachable_step : forall s s', Reachable s -> step s s' -> Reachable s'.

End NoFencing.
End NoFencing.

(** ** NoCommitCheck: the DCSM whose ledger accepts every commit *)

Module NoCommitCheck.
Section NoCommitCheck.
Context {params : Params}.

(** Commit without [CommitAccepted], same post-state.  Every DCSM Commit is
    such a commit, so the mutant's relation is [step] plus this one. *)
Inductive step : State -> State -> Prop :=
| dcsm_step : forall s s', Step.step s s' -> step s s'
| CommitUnchecked : forall s c p k,
    alive s c = true -> Held s c p ->
    1 <= k <= FinishedPrefixLen (win (local s c p)) ->
    step s (commit s c p k).

Inductive Reachable : State -> Prop :=
| reachable_init : Reachable init
| reachable_step : forall s s', Reachable s -> step s s' -> Reachable s'.

End NoCommitCheck.
End NoCommitCheck.

(** ** The concrete instance *)

Definition unit_eq_dec (x y : unit) : {x = y} + {x <> y}.
Proof. decide equality. Defined.

Definition bool_eq_dec (x y : bool) : {x = y} + {x <> y}.
Proof. decide equality. Defined.

(** Bounds as small as the trace allows: one offset, a window of one slot. *)
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
                     (left; discriminate) | (intros H; apply H; reflexivity)].

(** The two commits at the end of a trace put offset 0 in [effects] twice. *)
Lemma effects_twice_violates : forall s,
  effects (ledger s p0) = [0; 0] -> ~ NoDuplicateInv s.
Proof.
  intros s He H; destruct (H p0) as [Hnd _]; rewrite He in Hnd.
  inversion Hnd as [| x l Hx _]; apply Hx; left; reflexivity.
Qed.

(** ** The NoFencing trace *)

Module NoFencingTrace.
Import NoFencing.

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
Definition s12 := commit_unchecked s11 c2 p0 1. (* c2 commits offset 0: next = 1 *)
Definition s13 := commit_unchecked s12 c1 p0 1. (* zombie c1 commits offset 0 again *)

Lemma trace_reachable : Reachable s13.
Proof.
  apply (reachable_step s12); [| apply CommitUnchecked; trace_guard].
  apply (reachable_step s11); [| apply CommitUnchecked; trace_guard].
  apply (reachable_step s10); [| eapply Succeed; trace_guard].
  apply (reachable_step s9); [| eapply Begin; trace_guard].
  apply (reachable_step s8); [| apply Fetch; trace_guard].
  apply (reachable_step s7); [| apply AssignUnfenced; trace_guard].
  apply (reachable_step s6); [| apply Rebalance; trace_guard].
  apply (reachable_step s5); [| eapply Succeed; trace_guard].
  apply (reachable_step s4); [| eapply Begin; trace_guard].
  apply (reachable_step s3); [| apply Fetch; trace_guard].
  apply (reachable_step s2); [| apply AssignUnfenced; trace_guard].
  apply (reachable_step s1); [| apply Rebalance; trace_guard].
  apply (reachable_step init); [| apply Produce; trace_guard].
  apply reachable_init.
Qed.

Lemma trace_effects : effects (ledger s13 p0) = [0; 0].
Proof. reflexivity. Qed.

End NoFencingTrace.

Theorem no_fencing_mutant_violates_NoDuplicateInv :
  NoFencing.Reachable NoFencingTrace.s13 /\ ~ NoDuplicateInv NoFencingTrace.s13.
Proof.
  split; [exact NoFencingTrace.trace_reachable |].
  apply effects_twice_violates, NoFencingTrace.trace_effects.
Qed.

(** ** The NoCommitCheck trace: the same, with the DCSM's fencing Assign *)

Module NoCommitCheckTrace.
Import NoCommitCheck.

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
Definition s12 := commit s11 c2 p0 1.         (* accepted, as in the DCSM *)
Definition s13 := commit s12 c1 p0 1.         (* stale epoch 1, base 0 < next 1 *)

Lemma trace_reachable : Reachable s13.
Proof.
  apply (reachable_step s12); [| apply CommitUnchecked; trace_guard].
  apply (reachable_step s11); [| apply dcsm_step, Commit; trace_guard].
  apply (reachable_step s10); [| apply dcsm_step; eapply Succeed; trace_guard].
  apply (reachable_step s9); [| apply dcsm_step; eapply Begin; trace_guard].
  apply (reachable_step s8); [| apply dcsm_step, Fetch; trace_guard].
  apply (reachable_step s7); [| apply dcsm_step, Assign; trace_guard].
  apply (reachable_step s6); [| apply dcsm_step, Rebalance; trace_guard].
  apply (reachable_step s5); [| apply dcsm_step; eapply Succeed; trace_guard].
  apply (reachable_step s4); [| apply dcsm_step; eapply Begin; trace_guard].
  apply (reachable_step s3); [| apply dcsm_step, Fetch; trace_guard].
  apply (reachable_step s2); [| apply dcsm_step, Assign; trace_guard].
  apply (reachable_step s1); [| apply dcsm_step, Rebalance; trace_guard].
  apply (reachable_step init); [| apply dcsm_step, Produce; trace_guard].
  apply reachable_init.
Qed.

Lemma trace_effects : effects (ledger s13 p0) = [0; 0].
Proof. reflexivity. Qed.

(** In the DCSM the zombie's last commit is refused (its epoch is not the
    ledger's, its base not the ledger's next): only CommitRejected is
    enabled for it, so s13 is not reachable there. *)
Lemma zombie_commit_not_accepted : ~ CommitAccepted s12 c1 p0.
Proof. vm_compute; intros [H _]; discriminate. Qed.

End NoCommitCheckTrace.

Theorem no_commit_check_mutant_violates_NoDuplicateInv :
  NoCommitCheck.Reachable NoCommitCheckTrace.s13 /\ ~ NoDuplicateInv NoCommitCheckTrace.s13.
Proof.
  split; [exact NoCommitCheckTrace.trace_reachable |].
  apply effects_twice_violates, NoCommitCheckTrace.trace_effects.
Qed.
