---------------------------- MODULE MC_SafetyDeep ----------------------------
(* Safety of DCSM in depth on one partition; see MC_SafetyDeep.cfg. *)
EXTENDS MCCommon
=============================================================================
