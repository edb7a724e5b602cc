------------------------------ MODULE MC_Safety ------------------------------
(* Safety of DCSM with two consumers and two partitions; see MC_Safety.cfg. *)
EXTENDS MCCommon
=============================================================================
