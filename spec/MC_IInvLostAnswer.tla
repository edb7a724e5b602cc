--------------------------- MODULE MC_IInvLostAnswer ---------------------------
(* IInv is inductive for the split ledger write; see MC_IInvLostAnswer.cfg. *)
EXTENDS MC_IInv
=============================================================================
