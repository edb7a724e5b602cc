(** * OutboxPrefixInv: the dead-letter topic is a prefix of the outbox. *)

From Coq Require Import List.
From DCSM Require Import State Step Util.

Section OutboxPrefixInterface.
Context {params : Params}.

(** [Prefix t d] is [Len(t) <= Len(d) /\ \A i \in 1..Len(t) : t[i] = d[i]]. *)
Definition OutboxPrefixInv (s : State) : Prop :=
  forall p, Prefix (dlqTopic s p) (dlq (ledger s p)).

End OutboxPrefixInterface.
