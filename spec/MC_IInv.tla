------------------------------ MODULE MC_IInv ------------------------------
(***************************************************************************)
(* IInv is inductive (at small bounds): every state satisfying IInv --     *)
(* reachable or not -- has only successors that satisfy IInv.  This is the *)
(* check tlaplus/Examples' MCPaxos makes, and the obligation proofs/       *)
(* discharges for all bounds.                                              *)
(*                                                                         *)
(* The initial states are ALL states within the ranges below that satisfy  *)
(* IInv; the constraint stops exploration after one step, and TLC checks   *)
(* the invariants on every successor (it checks invariants before          *)
(* constraints), so this is exactly IInv /\ [Next]_vars => IInv'.          *)
(***************************************************************************)
EXTENDS MCCommon

CONSTANTS
    EpochRange,   \* epochs (ledger and held) range over 0..EpochRange
    GenRange      \* generations range over 0..GenRange

SeqsUpTo(S, n) == UNION {[1..k -> S] : k \in 0..n}

LedgerCandidates ==
    [next : Offsets, epoch : 0..EpochRange, writer : 0..EpochRange,
     effects : SeqsUpTo(0..(MaxOffset - 1), MaxOffset),
     dlq : SeqsUpTo(0..(MaxOffset - 1), MaxOffset)]

\* Window shape does not depend on the rest of the state: filter it once.
ShapedLocals ==
    {l \in [epoch : 0..EpochRange, gen : 0..GenRange, base : Offsets,
            win : SeqsUpTo(SlotRecs, Window), writeUpTo : Offsets,
            answer : Answers] : WindowShapeOK(l)}

\* A write's shape does not depend on the state either (WriteRangeOK less
\* its bounds by the ledger's epoch and the log, checked by IInv).
ShapedWrites ==
    {w \in [c : Consumers, epoch : 1..EpochRange, expectedNext : Offsets, upTo : Offsets,
            effects : SeqsUpTo(0..(MaxOffset - 1), MaxOffset),
            dlq : SeqsUpTo(0..(MaxOffset - 1), MaxOffset)] :
        /\ w.expectedNext < w.upTo
        /\ Range(w.effects) \cup Range(w.dlq) = w.expectedNext..(w.upTo - 1)
        /\ NoRepeats(w.effects \o w.dlq)}

\* Sets of writes with one write per epoch (WriteInFlightInv), at most two:
\* with EpochRange = 2 that is every set IInv allows.
WriteSets ==
    {{}} \cup {{w} : w \in ShapedWrites}
         \cup UNION {{{v, w} : w \in {x \in ShapedWrites : x.epoch > v.epoch}} : v \in ShapedWrites}

\* One consumer's views of all partitions that agree with the ledger.
LocalViews ==
    {f \in [Partitions -> ShapedLocals] :
        \A p \in Partitions : HolderOrderOK(f[p], p) /\ EpochIssuedOK(f[p], p)}

\* Candidate values, then IInv itself.  The filters in between are implied
\* by IInv (OffsetOrderInv, LedgerExactInv, and LocalViews' per-consumer
\* parts); they only let TLC prune early instead of enumerating every
\* combination first, and the variables IInv constrains least come last.
InitSatisfying(Inv) ==
    /\ log \in [Partitions -> Offsets]
    /\ ledger \in [Partitions -> LedgerCandidates]
    /\ \A p \in Partitions : ledger[p].next <= log[p]
    /\ dlqTopic \in [Partitions -> SeqsUpTo(0..(MaxOffset - 1), MaxOffset)]
    /\ LedgerExactInv
    /\ local \in [Consumers -> LocalViews]
    /\ writes \in [Partitions -> WriteSets]
    /\ WriteInFlightInv
    /\ brokerOffset \in [Partitions -> Offsets]
    /\ owner \in [Partitions -> Consumers \cup {NoConsumer}]
    /\ gen \in [Partitions -> 0..GenRange]
    /\ alive \in [Consumers -> BOOLEAN]
    /\ lastAction = Label("Init", <<>>)
    /\ Inv

IInvInit == InitSatisfying(IInv)

\* One step from every IInv state, no further.
OneStep == TLCGet("level") < 2

IInvSpec == IInvInit /\ [][Next]_vars
=============================================================================
