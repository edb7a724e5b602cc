(** * WriteInFlightInv: the writes in flight are well formed, one per epoch,
    one of the current epoch expects the ledger's next, one whose epoch is
    held was sent by its holder for the holder's window and write, and the
    consumers' answers agree with the ledger. *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section WriteInFlightInterface.
Context {params : Params}.

(** [WriteRangeOK(w, p)]: the write carries exactly the outcomes of its
    range, each once, within the log, and an epoch the ledger issued.  The
    range equality [Range(w.effects) \cup Range(w.dlq) =
    w.expectedNext..(w.upTo - 1)] is stated pointwise, as in NoGapInv. *)
Definition WriteRangeOK (s : State) (w : WriteRec) (p : Partition) : Prop :=
  (1 <= wr_epoch w /\ wr_epoch w <= epoch (ledger s p)) /\
  expectedNext w < upTo w /\
  upTo w <= log s p /\
  (forall o, In o (wr_effects w ++ wr_dlq w) <-> expectedNext w <= o < upTo w) /\
  NoDup (wr_effects w ++ wr_dlq w).

(** [AnswerOK(l, p)]: a write awaiting its answer is still in the database,
    and a Committed answer's upTo is the ledger's next if the epoch is still
    current (below it if not). *)
Definition AnswerOK (s : State) (l : LocalRec) (p : Partition) : Prop :=
  (loc_epoch l <> 0 /\ writeUpTo l <> 0 /\ answer l = NoAnswer ->
     ~ WriteSettled s p (loc_epoch l)) /\
  (answer l = Committed ->
     writeUpTo l <= next (ledger s p) /\
     (loc_epoch l = epoch (ledger s p) -> next (ledger s p) = writeUpTo l)).

Definition WriteInFlightInv (s : State) : Prop :=
  forall p,
    (forall w, In w (writes s p) -> WriteRangeOK s w p) /\
    (forall w, In w (writes s p) ->
       wr_epoch w = epoch (ledger s p) -> expectedNext w = next (ledger s p)) /\
    (forall v w, In v (writes s p) -> In w (writes s p) -> wr_epoch v = wr_epoch w -> v = w) /\
    (forall w c, In w (writes s p) -> loc_epoch (local s c p) = wr_epoch w ->
       c = wr_c w /\
       base (local s c p) = expectedNext w /\
       writeUpTo (local s c p) = upTo w /\
       (answer (local s c p) = NoAnswer \/ answer (local s c p) = Unknown)) /\
    (forall c, AnswerOK s (local s c p) p).

End WriteInFlightInterface.
