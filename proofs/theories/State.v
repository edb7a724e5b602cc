(** * State of the DCSM (spec/DCSM.tla, VARIABLES).

    Partitions and consumers are arbitrary types with decidable equality,
    offsets are naturals, and the bounds of the spec (MaxOffset, Window,
    MaxRetries) are arbitrary naturals: every theorem of this development is
    generalized over a [Params] record, so it holds for every instance, not
    only for the 2 consumers x 2 partitions x 3 offsets that TLC explores. *)

From Coq Require Import List.
Import ListNotations.

(** The CONSTANTS of the spec.  [NoConsumer] is [None] of [option Consumer]. *)
Class Params := {
  Partition : Type;
  Consumer : Type;
  partition_eq_dec : forall p q : Partition, {p = q} + {p <> q};
  consumer_eq_dec : forall c d : Consumer, {c = d} + {c <> d};
  MaxOffset : nat;
  Window : nat;
  MaxRetries : nat
}.

(** Per-offset states of the in-flight window. *)
Inductive OffsetState : Type :=
| Pending
| Processing
| Done
| Failed
| DeadLettered.

Definition offset_state_eq_dec (x y : OffsetState) : {x = y} + {x <> y}.
Proof. decide equality. Defined.

(** One window slot: [Slot(st, tries)]. *)
Record Slot : Type := mkSlot { st : OffsetState; tries : nat }.

(** [LedgerRec(next, epoch, writer, effects, dlq)]: the durable ledger row. *)
Record LedgerRec : Type := mkLedger {
  next : nat;
  epoch : nat;
  writer : nat;
  effects : list nat;
  dlq : list nat
}.

(** [LocalRec(epoch, gen, base, win)]: a consumer's volatile view of a
    partition.  Coq record fields are global names, so the two fields that
    clash with other records are prefixed: [loc_epoch] is [local[c][p].epoch]
    and [loc_gen] is [local[c][p].gen].  [win] is 0-indexed: [nth i win] is
    the slot of offset [base + i] (TLA+: [win[i+1]]). *)
Record LocalRec : Type := mkLocal {
  loc_epoch : nat;
  loc_gen : nat;
  base : nat;
  win : list Slot
}.

Definition NotHeld : LocalRec := mkLocal 0 0 0 [].

Section State.
Context {params : Params}.

(** The VARIABLES, except the history variable [lastAction], which no action
    reads and no invariant mentions. *)
Record State : Type := mkState {
  log : Partition -> nat;
  owner : Partition -> option Consumer;
  gen : Partition -> nat;
  alive : Consumer -> bool;
  brokerOffset : Partition -> nat;
  ledger : Partition -> LedgerRec;
  dlqTopic : Partition -> list nat;
  local : Consumer -> Partition -> LocalRec
}.

(** Pointwise function update, TLA+ [[f EXCEPT ![x] = v]].  States are
    compared pointwise only, so no functional extensionality is needed. *)
Definition upd_p {A : Type} (f : Partition -> A) (p : Partition) (v : A) :
  Partition -> A :=
  fun q => if partition_eq_dec q p then v else f q.

Definition upd_c {A : Type} (f : Consumer -> A) (c : Consumer) (v : A) :
  Consumer -> A :=
  fun d => if consumer_eq_dec d c then v else f d.

(** Setters, one per variable (Coq has no record-update syntax). *)
Definition set_log s v :=
  mkState v (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s) (local s).
Definition set_owner s v :=
  mkState (log s) v (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s) (local s).
Definition set_gen s v :=
  mkState (log s) (owner s) v (alive s) (brokerOffset s) (ledger s) (dlqTopic s) (local s).
Definition set_alive s v :=
  mkState (log s) (owner s) (gen s) v (brokerOffset s) (ledger s) (dlqTopic s) (local s).
Definition set_brokerOffset s v :=
  mkState (log s) (owner s) (gen s) (alive s) v (ledger s) (dlqTopic s) (local s).
Definition set_ledger s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) v (dlqTopic s) (local s).
Definition set_dlqTopic s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) v (local s).
Definition set_local s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s) v.

(** [local' = [local EXCEPT ![c][p] = l]]. *)
Definition set_local_cp (s : State) (c : Consumer) (p : Partition) (l : LocalRec) :=
  set_local s (upd_c (local s) c (upd_p (local s c) p l)).

(** [Held(c, p)]: epoch 0 means "not held". *)
Definition Held (s : State) (c : Consumer) (p : Partition) : Prop :=
  loc_epoch (local s c p) <> 0.

(** [Position(c, p)]: the next offset to fetch. *)
Definition Position (s : State) (c : Consumer) (p : Partition) : nat :=
  base (local s c p) + length (win (local s c p)).

End State.
