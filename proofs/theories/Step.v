(** * The transition relation of the DCSM (spec/DCSM.tla, Next).

    One constructor of [step] per TLA+ action, named after it.  Each action's
    post-state is a function of the pre-state and the action's arguments;
    the constructor's premises are the action's enabling conditions.  The
    ledger write is the split one of spec/DCSM.tla with SplitWrite = TRUE:
    WriteLedger, ApplyWrite, AbortWrite, LoseAnswer, Recover, Commit and
    CommitRejected (Atomic.v relates WriteAndAnswer to them). *)

From Coq Require Import List Arith Bool.
Import ListNotations.
From DCSM Require Import State.

(** ** Windows *)

(** [Finished(s)]: the slot's outcome is final and can be committed. *)
Definition finished (sl : Slot) : bool :=
  match st sl with
  | Done | DeadLettered => true
  | _ => false
  end.

(** [FinishedPrefixLen(w)]: length of the longest prefix of finished slots. *)
Fixpoint FinishedPrefixLen (w : list Slot) : nat :=
  match w with
  | [] => 0
  | sl :: w' => if finished sl then S (FinishedPrefixLen w') else 0
  end.

(** [HasHead(w) /\ w[HeadIndex(w)] = sl]: the first unfinished slot.
    WindowLemmas.head_slot_nth shows it is the slot at 0-based index
    [FinishedPrefixLen w], i.e. at TLA+ index [HeadIndex(w)]. *)
Fixpoint head_slot (w : list Slot) : option Slot :=
  match w with
  | [] => None
  | sl :: w' => if finished sl then head_slot w' else Some sl
  end.

(** [[w EXCEPT ![HeadIndex(w)] = f(@)]]: update the head slot, if any. *)
Fixpoint map_head (f : Slot -> Slot) (w : list Slot) : list Slot :=
  match w with
  | [] => []
  | sl :: w' => if finished sl then sl :: map_head f w' else f sl :: w'
  end.

(** [OffsetsIn(base, w, k, x)]: offsets [base + i], [i < k], whose slot is in
    state [x], in order. *)
Fixpoint OffsetsIn (b : nat) (w : list Slot) (k : nat) (x : OffsetState) {struct k} :
  list nat :=
  match k, w with
  | S k', sl :: w' =>
      (if offset_state_eq_dec (st sl) x then [b] else []) ++ OffsetsIn (S b) w' k' x
  | _, _ => []
  end.

Definition pending0 : Slot := mkSlot Pending 0.
Definition set_st (x : OffsetState) (sl : Slot) : Slot := mkSlot x (tries sl).
(** [Slot(Failed, @.tries + 1)]. *)
Definition fail_slot (sl : Slot) : Slot := mkSlot Failed (S (tries sl)).

Section Step.
Context {params : Params}.

(** ** Post-states of the actions *)

(** [local' = [local EXCEPT ![c][p].win = w]]. *)
Definition set_win (s : State) (c : Consumer) (p : Partition) (w : list Slot) :=
  let l := local s c p in
  set_local_cp s c p (mkLocal (loc_epoch l) (loc_gen l) (base l) w (writeUpTo l) (answer l)).

(** [[l EXCEPT !.answer = a]]. *)
Definition with_answer (l : LocalRec) (a : Answer) : LocalRec :=
  mkLocal (loc_epoch l) (loc_gen l) (base l) (win l) (writeUpTo l) a.

Definition produce (s : State) (p : Partition) : State :=
  set_log s (upd_p (log s) p (S (log s p))).

Definition rebalance (s : State) (p : Partition) (oc : option Consumer) : State :=
  set_gen (set_owner s (upd_p (owner s) p oc)) (upd_p (gen s) p (S (gen s p))).

Definition crash (s : State) (c : Consumer) : State :=
  set_local (set_alive s (upd_c (alive s) c false)) (upd_c (local s) c (fun _ => NotHeld)).

Definition restart (s : State) (c : Consumer) : State :=
  set_alive s (upd_c (alive s) c true).

(** The fence: a fresh epoch, and no accepted commit since it. *)
Definition fence (L : LedgerRec) : LedgerRec :=
  mkLedger (next L) (S (epoch L)) 0 (effects L) (dlq L).

Definition assign (s : State) (c : Consumer) (p : Partition) : State :=
  let L := ledger s p in
  set_local_cp (set_ledger s (upd_p (ledger s) p (fence L))) c p
    (mkLocal (S (epoch L)) (gen s p) (next L) [] 0 NoAnswer).

Definition revoke (s : State) (c : Consumer) (p : Partition) : State :=
  set_local_cp s c p NotHeld.

Definition fetch (s : State) (c : Consumer) (p : Partition) : State :=
  set_win s c p (win (local s c p) ++ [pending0]).

Definition begin (s : State) (c : Consumer) (p : Partition) : State :=
  set_win s c p (map_head (set_st Processing) (win (local s c p))).

Definition succeed (s : State) (c : Consumer) (p : Partition) : State :=
  set_win s c p (map_head (set_st Done) (win (local s c p))).

Definition fail (s : State) (c : Consumer) (p : Partition) : State :=
  set_win s c p (map_head fail_slot (win (local s c p))).

Definition retry (s : State) (c : Consumer) (p : Partition) : State :=
  set_win s c p (map_head (set_st Processing) (win (local s c p))).

Definition dead_letter (s : State) (c : Consumer) (p : Partition) : State :=
  set_win s c p (map_head (set_st DeadLettered) (win (local s c p))).

(** ** The ledger write *)

(** The write [WriteRec(c, l.epoch, l.base, l.base + k, OffsetsIn(.., Done),
    OffsetsIn(.., DeadLettered))] of WriteLedger. *)
Definition write_of (c : Consumer) (l : LocalRec) (k : nat) : WriteRec :=
  mkWrite c (loc_epoch l) (base l) (base l + k)
    (OffsetsIn (base l) (win l) k Done) (OffsetsIn (base l) (win l) k DeadLettered).

(** [CommitAccepted(w, p)]: the ledger's acceptance test. *)
Definition CommitAccepted (s : State) (w : WriteRec) (p : Partition) : Prop :=
  wr_epoch w = epoch (ledger s p) /\ expectedNext w = next (ledger s p).

(** The same test as a boolean, for the [IF] of ApplyWrite
    (Step.commit_accepted_b_spec). *)
Definition commit_accepted_b (s : State) (w : WriteRec) (p : Partition) : bool :=
  Nat.eqb (wr_epoch w) (epoch (ledger s p)) && Nat.eqb (expectedNext w) (next (ledger s p)).

(** [AwaitsAnswer(w, p)]: the sender still holds the write's epoch and
    waits for the answer. *)
Definition AwaitsAnswer (s : State) (w : WriteRec) (p : Partition) : Prop :=
  loc_epoch (local s (wr_c w) p) = wr_epoch w /\
  writeUpTo (local s (wr_c w) p) <> 0 /\
  answer (local s (wr_c w) p) = NoAnswer.

Definition awaits_answer_b (s : State) (w : WriteRec) (p : Partition) : bool :=
  let l := local s (wr_c w) p in
  Nat.eqb (loc_epoch l) (wr_epoch w) && negb (Nat.eqb (writeUpTo l) 0) &&
  (if answer_eq_dec (answer l) NoAnswer then true else false).

(** [WriteSettled(p, e)]: no write of epoch [e] is unsettled. *)
Definition WriteSettled (s : State) (p : Partition) (e : nat) : Prop :=
  forall w, In w (writes s p) -> wr_epoch w <> e.

(** [writes' = [writes EXCEPT ![p] = @ \cup {w}]] and [local' = [local
    EXCEPT ![c][p].writeUpTo = upTo]]. *)
Definition write_ledger (s : State) (c : Consumer) (p : Partition) (k : nat) : State :=
  let l := local s c p in
  set_local_cp (set_writes s (upd_p (writes s) p (write_of c l k :: writes s p))) c p
    (mkLocal (loc_epoch l) (loc_gen l) (base l) (win l) (base l + k) (answer l)).

(** The row after an applied write. *)
Definition apply_ledger (L : LedgerRec) (w : WriteRec) : LedgerRec :=
  mkLedger (upTo w) (epoch L) (wr_epoch w) (effects L ++ wr_effects w) (dlq L ++ wr_dlq w).

(** [ApplyWriteWith(p, w, AcceptA)]: [w] leaves [writes] ([remove] drops
    every copy: [writes[p] \ {w}]); the row is updated iff [acc] accepts;
    the sender gets the answer iff it awaits one. *)
Definition apply_write_with (acc : State -> WriteRec -> Partition -> bool)
    (s : State) (p : Partition) (w : WriteRec) : State :=
  let ok := acc s w p in
  let s1 := mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s)
              (if ok then upd_p (ledger s) p (apply_ledger (ledger s p) w) else ledger s)
              (dlqTopic s) (upd_p (writes s) p (remove write_eq_dec w (writes s p)))
              (local s) in
  if awaits_answer_b s w p
  then set_local_cp s1 (wr_c w) p
         (with_answer (local s (wr_c w) p) (if ok then Committed else Rejected))
  else s1.

(** [ApplyWrite(p, w) == ApplyWriteWith(p, w, CommitAccepted)]. *)
Definition apply_write (s : State) (p : Partition) (w : WriteRec) : State :=
  apply_write_with commit_accepted_b s p w.

Definition abort_write (s : State) (p : Partition) (w : WriteRec) : State :=
  set_writes s (upd_p (writes s) p (remove write_eq_dec w (writes s p))).

Definition lose_answer (s : State) (c : Consumer) (p : Partition) : State :=
  set_local_cp s c p (with_answer (local s c p) Unknown).

(** [RecoverDecision(l, row)]. *)
Definition RecoverDecision (l : LocalRec) (row : LedgerRec) : Answer :=
  if Nat.eqb (epoch row) (loc_epoch l) && Nat.eqb (next row) (writeUpTo l) then Committed
  else if Nat.eqb (epoch row) (loc_epoch l) && Nat.eqb (next row) (base l) then NoAnswer
  else Rejected.

Definition recover (s : State) (c : Consumer) (p : Partition) : State :=
  let l := local s c p in
  let d := RecoverDecision l (ledger s p) in
  set_local_cp s c p
    (mkLocal (loc_epoch l) (loc_gen l) (base l) (win l)
       (match d with NoAnswer => 0 | _ => writeUpTo l end) d).

(** Commit: the window drops its first [k = writeUpTo - base] slots. *)
Definition commit_local (l : LocalRec) : LocalRec :=
  mkLocal (loc_epoch l) (loc_gen l) (writeUpTo l) (skipn (writeUpTo l - base l) (win l))
    0 NoAnswer.

Definition commit (s : State) (c : Consumer) (p : Partition) : State :=
  set_local_cp s c p (commit_local (local s c p)).

Definition commit_rejected (s : State) (c : Consumer) (p : Partition) : State :=
  set_local_cp s c p NotHeld.

Definition commit_broker (s : State) (c : Consumer) (p : Partition) : State :=
  set_brokerOffset s (upd_p (brokerOffset s) p (base (local s c p))).

(** [Append(@, ledger[p].dlq[Len(@) + 1])]; the default 0 of [nth] is never
    used, as the guard says the index is in range. *)
Definition publish_dead_letter (s : State) (p : Partition) : State :=
  set_dlqTopic s
    (upd_p (dlqTopic s) p
       (dlqTopic s p ++ [nth (length (dlqTopic s p)) (dlq (ledger s p)) 0])).

Lemma commit_accepted_b_spec : forall s w p,
  commit_accepted_b s w p = true <-> CommitAccepted s w p.
Proof using.
  intros s w p; unfold commit_accepted_b, CommitAccepted.
  rewrite Bool.andb_true_iff, !Nat.eqb_eq; reflexivity.
Qed.

Lemma awaits_answer_b_spec : forall s w p,
  awaits_answer_b s w p = true <-> AwaitsAnswer s w p.
Proof using.
  intros s w p; unfold awaits_answer_b, AwaitsAnswer.
  rewrite !Bool.andb_true_iff, Bool.negb_true_iff, Nat.eqb_eq, Nat.eqb_neq.
  destruct (answer_eq_dec (answer (local s (wr_c w) p)) NoAnswer); intuition congruence.
Qed.

(** ** Init *)

Definition init : State := {|
  log := fun _ => 0;
  owner := fun _ => None;
  gen := fun _ => 0;
  alive := fun _ => true;
  brokerOffset := fun _ => 0;
  ledger := fun _ => mkLedger 0 0 0 [] [];
  dlqTopic := fun _ => [];
  writes := fun _ => [];
  local := fun _ _ => NotHeld
|}.

(** ** Next *)

Inductive step : State -> State -> Prop :=
| Produce : forall s p,
    log s p < MaxOffset ->
    step s (produce s p)
| Rebalance : forall s p oc,
    oc <> None \/ owner s p <> None ->
    step s (rebalance s p oc)
| Crash : forall s c,
    alive s c = true ->
    step s (crash s c)
| Restart : forall s c,
    alive s c = false ->
    step s (restart s c)
| Assign : forall s c p,
    alive s c = true ->
    owner s p = Some c ->
    ~ Held s c p ->
    step s (assign s c p)
| Revoke : forall s c p,
    alive s c = true ->
    Held s c p ->
    owner s p <> Some c \/ gen s p <> loc_gen (local s c p) ->
    step s (revoke s c p)
| Fetch : forall s c p,
    alive s c = true ->
    Held s c p ->
    Position s c p < log s p ->
    length (win (local s c p)) < Window ->
    step s (fetch s c p)
| Begin : forall s c p sl,
    alive s c = true ->
    Held s c p ->
    head_slot (win (local s c p)) = Some sl ->
    st sl = Pending ->
    step s (begin s c p)
| Succeed : forall s c p sl,
    alive s c = true ->
    Held s c p ->
    head_slot (win (local s c p)) = Some sl ->
    st sl = Processing ->
    step s (succeed s c p)
| Fail : forall s c p sl,
    alive s c = true ->
    Held s c p ->
    head_slot (win (local s c p)) = Some sl ->
    st sl = Processing ->
    step s (fail s c p)
| Retry : forall s c p sl,
    alive s c = true ->
    Held s c p ->
    head_slot (win (local s c p)) = Some sl ->
    st sl = Failed ->
    tries sl <= MaxRetries ->
    step s (retry s c p)
| DeadLetter : forall s c p sl,
    alive s c = true ->
    Held s c p ->
    head_slot (win (local s c p)) = Some sl ->
    st sl = Failed ->
    MaxRetries < tries sl ->
    step s (dead_letter s c p)
| WriteLedger : forall s c p k,
    alive s c = true ->
    Held s c p ->
    writeUpTo (local s c p) = 0 ->
    1 <= k <= FinishedPrefixLen (win (local s c p)) ->
    step s (write_ledger s c p k)
| ApplyWrite : forall s p w,
    In w (writes s p) ->
    step s (apply_write s p w)
| AbortWrite : forall s p w,
    In w (writes s p) ->
    ~ AwaitsAnswer s w p ->
    step s (abort_write s p w)
| LoseAnswer : forall s c p,
    alive s c = true ->
    Held s c p ->
    writeUpTo (local s c p) <> 0 ->
    answer (local s c p) <> Unknown ->
    step s (lose_answer s c p)
| Recover : forall s c p,
    alive s c = true ->
    Held s c p ->
    answer (local s c p) = Unknown ->
    WriteSettled s p (loc_epoch (local s c p)) ->
    step s (recover s c p)
| Commit : forall s c p,
    alive s c = true ->
    Held s c p ->
    answer (local s c p) = Committed ->
    step s (commit s c p)
| CommitRejected : forall s c p,
    alive s c = true ->
    Held s c p ->
    answer (local s c p) = Rejected ->
    step s (commit_rejected s c p)
| CommitBroker : forall s c p,
    alive s c = true ->
    Held s c p ->
    owner s p = Some c ->
    gen s p = loc_gen (local s c p) ->
    brokerOffset s p <> base (local s c p) ->
    step s (commit_broker s c p)
| PublishDeadLetter : forall s p,
    length (dlqTopic s p) < length (dlq (ledger s p)) ->
    step s (publish_dead_letter s p).

(** The states reachable from [init] by [step]s (the reflexive-transitive
    closure of [step] from [Init]). *)
Inductive Reachable : State -> Prop :=
| reachable_init : Reachable init
| reachable_step : forall s s', Reachable s -> step s s' -> Reachable s'.

End Step.
