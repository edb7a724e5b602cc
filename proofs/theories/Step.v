(** * The transition relation of the DCSM (spec/DCSM.tla, Next).

    One constructor of [step] per TLA+ action, named after it.  Each action's
    post-state is a function of the pre-state and the action's arguments;
    the constructor's premises are the action's enabling conditions. *)

From Coq Require Import List Arith.
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
  set_local_cp s c p (mkLocal (loc_epoch l) (loc_gen l) (base l) w).

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
    (mkLocal (S (epoch L)) (gen s p) (next L) []).

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

(** The ledger row after committing the first [k] slots of [l]. *)
Definition commit_ledger (L : LedgerRec) (l : LocalRec) (k : nat) : LedgerRec :=
  mkLedger (base l + k) (epoch L) (loc_epoch l)
    (effects L ++ OffsetsIn (base l) (win l) k Done)
    (dlq L ++ OffsetsIn (base l) (win l) k DeadLettered).

Definition commit_local (l : LocalRec) (k : nat) : LocalRec :=
  mkLocal (loc_epoch l) (loc_gen l) (base l + k) (skipn k (win l)).

Definition commit (s : State) (c : Consumer) (p : Partition) (k : nat) : State :=
  let l := local s c p in
  set_local_cp (set_ledger s (upd_p (ledger s) p (commit_ledger (ledger s p) l k))) c p
    (commit_local l k).

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

(** [CommitAccepted(c, p)]: the ledger's acceptance test. *)
Definition CommitAccepted (s : State) (c : Consumer) (p : Partition) : Prop :=
  loc_epoch (local s c p) = epoch (ledger s p) /\ base (local s c p) = next (ledger s p).

(** ** Init *)

Definition init : State := {|
  log := fun _ => 0;
  owner := fun _ => None;
  gen := fun _ => 0;
  alive := fun _ => true;
  brokerOffset := fun _ => 0;
  ledger := fun _ => mkLedger 0 0 0 [] [];
  dlqTopic := fun _ => [];
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
| Commit : forall s c p k,
    alive s c = true ->
    Held s c p ->
    CommitAccepted s c p ->
    1 <= k <= FinishedPrefixLen (win (local s c p)) ->
    step s (commit s c p k)
| CommitRejected : forall s c p,
    alive s c = true ->
    Held s c p ->
    ~ CommitAccepted s c p ->
    0 < FinishedPrefixLen (win (local s c p)) ->
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
