(** * TypeOK, the facts that Coq's types do not already give.

    [owner], [alive], the epochs, generations and slot states are typed by
    their Coq types; what remains of TypeOK are the bounds: offsets in
    [0..MaxOffset], retry counts in [0..MaxRetries + 1], windows of at most
    [Window] slots.  [IsFiniteSet(writes[p])] holds of every list, and the
    fields [w.c], [w.epoch] and [l.answer] are typed.  [lastAction] is not
    modelled (see README). *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section TypeOKInterface.
Context {params : Params}.

Definition offset_ok (o : nat) : Prop := o <= MaxOffset.

(** The bounds of one write [w \in writes[p]]. *)
Definition WriteTypeOK (w : WriteRec) : Prop :=
  expectedNext w <= MaxOffset /\
  upTo w <= MaxOffset /\
  Forall offset_ok (wr_effects w) /\
  Forall offset_ok (wr_dlq w).

Record TypeOKFacts (s : State) : Prop := {
  tok_log : forall p, log s p <= MaxOffset;
  tok_brokerOffset : forall p, brokerOffset s p <= MaxOffset;
  tok_next : forall p, next (ledger s p) <= MaxOffset;
  tok_effects : forall p, Forall offset_ok (effects (ledger s p));
  tok_dlq : forall p, Forall offset_ok (dlq (ledger s p));
  tok_dlqTopic : forall p, Forall offset_ok (dlqTopic s p);
  tok_writes : forall p w, In w (writes s p) -> WriteTypeOK w;
  tok_base : forall c p, base (local s c p) <= MaxOffset;
  tok_tries : forall c p, Forall (fun sl => tries sl <= S MaxRetries) (win (local s c p));
  tok_window : forall c p, length (win (local s c p)) <= Window;
  tok_writeUpTo : forall c p, writeUpTo (local s c p) <= MaxOffset
}.

End TypeOKInterface.

Arguments tok_log {params s}.
Arguments tok_brokerOffset {params s}.
Arguments tok_next {params s}.
Arguments tok_effects {params s}.
Arguments tok_dlq {params s}.
Arguments tok_dlqTopic {params s}.
Arguments tok_writes {params s}.
Arguments tok_base {params s}.
Arguments tok_tries {params s}.
Arguments tok_window {params s}.
Arguments tok_writeUpTo {params s}.
