(** * State of the DCSM (spec/DCSM.tla, VARIABLES).

    Partitions and consumers are arbitrary types with decidable equality,
    offsets are naturals, and the bounds of the spec (MaxOffset, Window,
    MaxRetries) are arbitrary naturals: every theorem of this development is
    generalized over a [Params] record, so it holds for every instance, not
    only for the 2 consumers x 2 partitions x 3 offsets that TLC explores. *)

From Coq Require Import List Arith.
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

(** The answer to the write in flight, as the consumer has it. *)
Inductive Answer : Type :=
| NoAnswer    (* none yet (or no write in flight: writeUpTo = 0) *)
| Committed   (* the ledger applied it: input LedgerCommitted(p, upTo) *)
| Rejected    (* the ledger refused it, nothing applied: input LedgerRejected(p) *)
| Unknown.    (* the answer was lost: input LedgerUnknown(p); Recover decides *)

Definition answer_eq_dec (x y : Answer) : {x = y} + {x <> y}.
Proof. decide equality. Defined.

(** [LocalRec(epoch, gen, base, win, writeUpTo, answer)]: a consumer's
    volatile view of a partition.  Coq record fields are global names, so the
    two fields that clash with other records are prefixed: [loc_epoch] is
    [local[c][p].epoch] and [loc_gen] is [local[c][p].gen].  [win] is
    0-indexed: [nth i win] is the slot of offset [base + i] (TLA+:
    [win[i+1]]).  [writeUpTo] is the upTo of the write in flight (0 = none),
    [answer] what the consumer knows of its outcome. *)
Record LocalRec : Type := mkLocal {
  loc_epoch : nat;
  loc_gen : nat;
  base : nat;
  win : list Slot;
  writeUpTo : nat;
  answer : Answer
}.

Definition NotHeld : LocalRec := mkLocal 0 0 0 [] 0 NoAnswer.

Section State.
Context {params : Params}.

(** [WriteRec(c, epoch, expectedNext, upTo, effects, dlq)]: one ledger
    write as the database holds it until it settles.  The fields that clash
    with other records' are prefixed: [wr_c], [wr_epoch], [wr_effects],
    [wr_dlq]. *)
Record WriteRec : Type := mkWrite {
  wr_c : Consumer;
  wr_epoch : nat;
  expectedNext : nat;
  upTo : nat;
  wr_effects : list nat;
  wr_dlq : list nat
}.

Definition write_eq_dec (v w : WriteRec) : {v = w} + {v <> w}.
Proof.
  decide equality; try apply (list_eq_dec Nat.eq_dec); try apply Nat.eq_dec.
  apply consumer_eq_dec.
Defined.

(** The VARIABLES, except the history variable [lastAction], which no action
    reads and no invariant mentions.  [writes p] is the TLA+ set [writes[p]]
    as a list: only membership ([In]) is ever read, WriteLedger conses the
    new write and ApplyWrite and AbortWrite remove every copy of the settled
    one ([remove]), so [In w (writes s p)] is [w \in writes[p]] after every
    step. *)
Record State : Type := mkState {
  log : Partition -> nat;
  owner : Partition -> option Consumer;
  gen : Partition -> nat;
  alive : Consumer -> bool;
  brokerOffset : Partition -> nat;
  ledger : Partition -> LedgerRec;
  dlqTopic : Partition -> list nat;
  writes : Partition -> list WriteRec;
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
  mkState v (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s)
    (writes s) (local s).
Definition set_owner s v :=
  mkState (log s) v (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s)
    (writes s) (local s).
Definition set_gen s v :=
  mkState (log s) (owner s) v (alive s) (brokerOffset s) (ledger s) (dlqTopic s)
    (writes s) (local s).
Definition set_alive s v :=
  mkState (log s) (owner s) (gen s) v (brokerOffset s) (ledger s) (dlqTopic s)
    (writes s) (local s).
Definition set_brokerOffset s v :=
  mkState (log s) (owner s) (gen s) (alive s) v (ledger s) (dlqTopic s)
    (writes s) (local s).
Definition set_ledger s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) v (dlqTopic s)
    (writes s) (local s).
Definition set_dlqTopic s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) v
    (writes s) (local s).
Definition set_writes s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s)
    v (local s).
Definition set_local s v :=
  mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s) (ledger s) (dlqTopic s)
    (writes s) v.

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
