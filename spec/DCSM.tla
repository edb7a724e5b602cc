-------------------------------- MODULE DCSM --------------------------------
(***************************************************************************)
(* The Deterministic Consumer State Machine (DCSM) of htmqc.               *)
(*                                                                         *)
(* A group of consumers reads the partitions of a Kafka topic.  For every  *)
(* record, a handler runs; the effects it queues are committed to a        *)
(* durable ledger in one atomic, epoch-fenced transaction together with    *)
(* the partition's next offset.  The promise this module states and TLC    *)
(* checks:                                                                 *)
(*                                                                         *)
(*   Every record of an assigned partition has its effects committed       *)
(*   exactly once -- never lost, never duplicated -- across consumer       *)
(*   crashes at any point, rebalances, and zombie consumers of an old      *)
(*   generation.                                                           *)
(*                                                                         *)
(* Model boundaries (what is abstracted, and why it is sound):             *)
(*  - A record is its offset; contents do not influence any decision.      *)
(*  - The broker keeps each partition's log and its committed group        *)
(*    offsets across restarts (Kafka with a durable log); a broker restart *)
(*    is therefore only a delay, which interleaving already covers.        *)
(*  - The ledger write is one atomic step (one database transaction).  The *)
(*    core issues WriteLedger and later learns LedgerCommitted; nothing    *)
(*    else the consumer does depends on the ledger in between, so the two  *)
(*    collapse into the single step Commit.                                *)
(*  - Within a partition handlers run in offset order (PARTITION ordering):*)
(*    Begin only starts the first unfinished offset of the window.         *)
(*                                                                         *)
(* Names here are the names everywhere: Coq constructors, the TypeScript   *)
(* and C++ cores, trace records and gRPC enums spell actions and           *)
(* invariants exactly as below.                                            *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Consumers,    \* the consumer processes of the group (a symmetry set)
    Partitions,   \* the topic's partitions (a symmetry set)
    NoConsumer,   \* model value: owner of a partition nobody is assigned
    MaxOffset,    \* producers append at most this many records per partition
    Window,       \* bound of a consumer's in-flight window per partition
    MaxRetries    \* retries after the first failure before dead-lettering

ASSUME /\ MaxOffset \in Nat
       /\ Window \in Nat \ {0}
       /\ MaxRetries \in Nat
       /\ NoConsumer \notin Consumers

VARIABLES
    log,          \* log[p]: the log end offset of partition p (records 0..log[p]-1)
    owner,        \* owner[p]: the coordinator's assignment of p, or NoConsumer
    gen,          \* gen[p]: the coordinator's generation for p; bumped by Rebalance
    alive,        \* alive[c]: FALSE between Crash(c) and Restart(c)
    brokerOffset, \* brokerOffset[p]: the group offset committed to Kafka (advisory)
    ledger,       \* ledger[p]: the durable ledger row of p (see LedgerRec)
    dlqTopic,     \* dlqTopic[p]: source offsets of p relayed to the dead-letter topic, in order
    local,        \* local[c][p]: consumer c's volatile state for p (see LocalRec)
    lastAction    \* history: the action (name and arguments) that produced this state

vars == <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, local, lastAction>>

-----------------------------------------------------------------------------
(* Per-offset states of the in-flight window.                              *)

Pending      == "Pending"       \* fetched, handler not started
Processing   == "Processing"    \* handler running (RunHandler issued)
Done         == "Done"          \* handler succeeded; its effects wait in the window
Failed       == "Failed"        \* handler threw; waits for Retry or DeadLetter
DeadLettered == "DeadLettered"  \* retries exhausted; a dead letter waits in the window

OffsetStates == {Pending, Processing, Done, Failed, DeadLettered}

\* One window slot: its state and how many times its handler has failed.
Slot(st, tries) == [st |-> st, tries |-> tries]
SlotRecs == [st : OffsetStates, tries : 0..(MaxRetries + 1)]

\* A slot whose outcome is final and can be committed to the ledger.
Finished(s) == s.st \in {Done, DeadLettered}

Offsets == 0..MaxOffset

(* The durable ledger row of a partition.  It survives every crash.         *)
(*   next    : offsets below next are handled; recovery resumes here         *)
(*   epoch   : fencing token, issued anew to every Assign                    *)
(*   writer  : the epoch that made the last accepted commit since the        *)
(*             current fence, 0 if none (audit column for FencingInv)        *)
(*   effects : offsets whose handler effects were committed, in order        *)
(*   dlq     : offsets committed as dead letters (the outbox), in order      *)
LedgerRec(next, epoch, writer, effects, dlq) ==
    [next |-> next, epoch |-> epoch, writer |-> writer, effects |-> effects, dlq |-> dlq]

(* A consumer's volatile view of one partition; lost on Crash.               *)
(*   epoch : the fencing token it holds; 0 = the partition is not held       *)
(*   gen   : the generation in which it was assigned                         *)
(*   base  : first offset of the window = the ledger's next as it knows it   *)
(*   win   : the in-flight window: win[i] is the slot of offset base+i-1     *)
LocalRec(epoch, g, base, win) == [epoch |-> epoch, gen |-> g, base |-> base, win |-> win]
NotHeld == LocalRec(0, 0, 0, <<>>)

Held(c, p)     == local[c][p].epoch # 0
Position(c, p) == local[c][p].base + Len(local[c][p].win)   \* next offset to fetch

\* Length of the window's longest prefix of finished slots.
FinishedPrefixLen(w) ==
    IF \A i \in 1..Len(w) : Finished(w[i]) THEN Len(w)
    ELSE CHOOSE k \in 0..(Len(w) - 1) :
            /\ \A i \in 1..k : Finished(w[i])
            /\ ~Finished(w[k + 1])

\* Index of the first unfinished slot (the handler in progress), if any.
HeadIndex(w) == FinishedPrefixLen(w) + 1
HasHead(w)   == HeadIndex(w) <= Len(w)

\* The offsets of a window prefix whose slots are in state st, in order.
OffsetsIn(base, w, k, st) ==
    LET pick[i \in 0..k] ==
            IF i = 0 THEN <<>>
            ELSE IF w[i].st = st THEN Append(pick[i - 1], base + i - 1)
                 ELSE pick[i - 1]
    IN pick[k]

Label(name, args) == [name |-> name, args |-> args]

-----------------------------------------------------------------------------
TypeOK ==
    /\ log \in [Partitions -> Offsets]
    /\ owner \in [Partitions -> Consumers \cup {NoConsumer}]
    /\ gen \in [Partitions -> Nat]
    /\ alive \in [Consumers -> BOOLEAN]
    /\ brokerOffset \in [Partitions -> Offsets]
    /\ \A p \in Partitions :
          /\ ledger[p].next \in Offsets
          /\ ledger[p].epoch \in Nat
          /\ ledger[p].writer \in Nat
          /\ ledger[p].effects \in Seq(Offsets)
          /\ ledger[p].dlq \in Seq(Offsets)
          /\ dlqTopic[p] \in Seq(Offsets)
    /\ \A c \in Consumers, p \in Partitions :
          /\ local[c][p].epoch \in Nat
          /\ local[c][p].gen \in Nat
          /\ local[c][p].base \in Offsets
          /\ local[c][p].win \in Seq(SlotRecs)
          /\ Len(local[c][p].win) <= Window
    /\ lastAction.name \in STRING

Init ==
    /\ log = [p \in Partitions |-> 0]
    /\ owner = [p \in Partitions |-> NoConsumer]
    /\ gen = [p \in Partitions |-> 0]
    /\ alive = [c \in Consumers |-> TRUE]
    /\ brokerOffset = [p \in Partitions |-> 0]
    /\ ledger = [p \in Partitions |-> LedgerRec(0, 0, 0, <<>>, <<>>)]
    /\ dlqTopic = [p \in Partitions |-> <<>>]
    /\ local = [c \in Consumers |-> [p \in Partitions |-> NotHeld]]
    /\ lastAction = Label("Init", <<>>)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Environment actions: producers, the group coordinator, process faults. *)
(***************************************************************************)

\* A producer appends one record to partition p.
Produce(p) ==
    /\ log[p] < MaxOffset
    /\ log' = [log EXCEPT ![p] = @ + 1]
    /\ lastAction' = Label("Produce", <<p>>)
    /\ UNCHANGED <<owner, gen, alive, brokerOffset, ledger, dlqTopic, local>>

\* The coordinator gives p to c (or to nobody; c may be the owner again, as an
\* eager rebalance revokes everything) in a new generation.  The old owner is
\* not told synchronously: until it runs Revoke it is a zombie.
Rebalance(p, c) ==
    /\ c # NoConsumer \/ owner[p] # NoConsumer
    /\ owner' = [owner EXCEPT ![p] = c]
    /\ gen' = [gen EXCEPT ![p] = @ + 1]
    /\ lastAction' = Label("Rebalance", <<p, c>>)
    /\ UNCHANGED <<log, alive, brokerOffset, ledger, dlqTopic, local>>

\* Consumer c dies (SIGKILL): all its volatile state is gone, at any point.
Crash(c) ==
    /\ alive[c]
    /\ alive' = [alive EXCEPT ![c] = FALSE]
    /\ local' = [local EXCEPT ![c] = [p \in Partitions |-> NotHeld]]
    /\ lastAction' = Label("Crash", <<c>>)
    /\ UNCHANGED <<log, owner, gen, brokerOffset, ledger, dlqTopic>>

\* Consumer c's process starts again, with empty volatile state.
Restart(c) ==
    /\ ~alive[c]
    /\ alive' = [alive EXCEPT ![c] = TRUE]
    /\ lastAction' = Label("Restart", <<c>>)
    /\ UNCHANGED <<log, owner, gen, brokerOffset, ledger, dlqTopic, local>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Consumer actions.  Each is taken by one live consumer c for one         *)
(* partition p and corresponds to one input of the core.                   *)
(***************************************************************************)

\* Input Assigned(p, epoch, ledgerNext).  The coordinator gave p to c in the
\* current generation; c fences the ledger, which issues a fresh epoch so every
\* older holder's commits are rejected, and reads where to resume: the ledger's
\* next, never the advisory broker offset.  Commands: Seek(p, next), Resume(p).
Assign(c, p) ==
    /\ alive[c]
    /\ owner[p] = c
    /\ ~Held(c, p)
    /\ LET e == ledger[p].epoch + 1 IN
          /\ ledger' = [ledger EXCEPT ![p].epoch = e, ![p].writer = 0]
          /\ local' = [local EXCEPT ![c][p] = LocalRec(e, gen[p], ledger[p].next, <<>>)]
          /\ lastAction' = Label("Assign", <<c, p, e, ledger[p].next>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

\* Input Revoked(p).  c learns that p is no longer its own in its generation
\* and drops the window; whatever it had not committed will be redone by the
\* next holder, from the ledger's next.
Revoke(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ \/ owner[p] # c
       \/ gen[p] # local[c][p].gen
    /\ local' = [local EXCEPT ![c][p] = NotHeld]
    /\ lastAction' = Label("Revoke", <<c, p>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Input Fetched(p, base, count), one offset at a time (a batch is a run of
\* Fetch steps).  The window is bounded: when it is full the core pauses the
\* partition (Pause) and resumes it (Resume) once a Commit frees a slot.
Fetch(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ Position(c, p) < log[p]
    /\ Len(local[c][p].win) < Window
    /\ local' = [local EXCEPT ![c][p].win = Append(@, Slot(Pending, 0))]
    /\ lastAction' = Label("Fetch", <<c, p, Position(c, p)>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Command RunHandler(p, o) for the first unfinished offset of the window.
\* The guard (offset order within the partition) is the ordering mode.
Begin(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ LET w == local[c][p].win
           h == HeadIndex(w)
       IN /\ HasHead(w)
          /\ w[h].st = Pending
          /\ local' = [local EXCEPT ![c][p].win[h].st = Processing]
          /\ lastAction' = Label("Begin", <<c, p, local[c][p].base + h - 1>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Input HandlerSucceeded(p, o): the handler's queued effects are kept in the
\* window until Commit writes them, atomically with the offset.
Succeed(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ LET w == local[c][p].win
           h == HeadIndex(w)
       IN /\ HasHead(w)
          /\ w[h].st = Processing
          /\ local' = [local EXCEPT ![c][p].win[h].st = Done]
          /\ lastAction' = Label("Succeed", <<c, p, local[c][p].base + h - 1>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Input HandlerFailed(p, o): the handler threw; its queued effects are dropped.
Fail(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ LET w == local[c][p].win
           h == HeadIndex(w)
       IN /\ HasHead(w)
          /\ w[h].st = Processing
          /\ local' = [local EXCEPT ![c][p].win[h] = Slot(Failed, @.tries + 1)]
          /\ lastAction' = Label("Fail", <<c, p, local[c][p].base + h - 1>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* After its backoff (Tick), a failed handler runs again: RunHandler(p, o).
Retry(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ LET w == local[c][p].win
           h == HeadIndex(w)
       IN /\ HasHead(w)
          /\ w[h].st = Failed
          /\ w[h].tries <= MaxRetries
          /\ local' = [local EXCEPT ![c][p].win[h].st = Processing]
          /\ lastAction' = Label("Retry", <<c, p, local[c][p].base + h - 1>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Retries exhausted: command DeadLetter(p, o).  The dead letter is not sent
\* here: it is committed to the ledger's outbox by Commit, with the offset, and
\* relayed to the dead-letter topic by PublishDeadLetter.
DeadLetter(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ LET w == local[c][p].win
           h == HeadIndex(w)
       IN /\ HasHead(w)
          /\ w[h].st = Failed
          /\ w[h].tries > MaxRetries
          /\ local' = [local EXCEPT ![c][p].win[h].st = DeadLettered]
          /\ lastAction' = Label("DeadLetter", <<c, p, local[c][p].base + h - 1>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* The ledger's acceptance test, in one place: the caller holds the ledger's
\* current epoch and its window starts exactly at the ledger's next.
CommitAccepted(c, p) ==
    /\ local[c][p].epoch = ledger[p].epoch
    /\ local[c][p].base = ledger[p].next

\* Command WriteLedger(p, epoch, base, base+k) answered by LedgerCommitted(p,
\* base+k): one atomic ledger transaction appends the effects and dead letters
\* of the first k finished offsets and sets next to base+k.  Any k up to the
\* finished prefix (group commit batches as it likes).  Then CommitBroker may
\* follow.
Commit(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ CommitAccepted(c, p)
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
          IN /\ ledger' = [ledger EXCEPT
                   ![p].next = upTo,
                   ![p].writer = l.epoch,
                   ![p].effects = @ \o OffsetsIn(l.base, l.win, k, Done),
                   ![p].dlq = @ \o OffsetsIn(l.base, l.win, k, DeadLettered)]
             /\ local' = [local EXCEPT ![c][p].base = upTo,
                                       ![c][p].win = SubSeq(@, k + 1, Len(@))]
             /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

\* Input LedgerRejected(p): the ledger refused the write (a newer epoch fenced
\* it, or next moved).  Nothing was applied; c drops the partition.
CommitRejected(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ ~CommitAccepted(c, p)
    /\ FinishedPrefixLen(local[c][p].win) > 0
    /\ local' = [local EXCEPT ![c][p] = NotHeld]
    /\ lastAction' = Label("CommitRejected", <<c, p, local[c][p].epoch>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* Command CommitBroker(p, o): the advisory Kafka group offset, only ever an
\* offset the ledger already holds.  Kafka itself rejects it from a member of
\* an old generation.
CommitBroker(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ owner[p] = c
    /\ gen[p] = local[c][p].gen
    /\ brokerOffset[p] # local[c][p].base
    /\ brokerOffset' = [brokerOffset EXCEPT ![p] = local[c][p].base]
    /\ lastAction' = Label("CommitBroker", <<c, p, local[c][p].base>>)
    /\ UNCHANGED <<log, owner, gen, alive, ledger, dlqTopic, local>>

\* The outbox relay: publishes the next committed dead letter of p to the
\* dead-letter topic.  Its position is read from the topic itself (the source
\* offset of the last dead letter there), so a crash of the relay at any point
\* neither skips nor repeats one.
PublishDeadLetter(p) ==
    /\ Len(dlqTopic[p]) < Len(ledger[p].dlq)
    /\ dlqTopic' = [dlqTopic EXCEPT ![p] = Append(@, ledger[p].dlq[Len(@) + 1])]
    /\ lastAction' = Label("PublishDeadLetter", <<p, ledger[p].dlq[Len(dlqTopic[p]) + 1]>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, local>>

-----------------------------------------------------------------------------
(* Next is assembled from its actions so that a mutant (spec/mutants/) can  *)
(* swap exactly one design decision and keep everything else.               *)

EnvStep ==
    \/ \E p \in Partitions : Produce(p)
    \/ \E p \in Partitions, c \in Consumers \cup {NoConsumer} : Rebalance(p, c)
    \/ \E c \in Consumers : Crash(c) \/ Restart(c)

ConsumerStepWith(c, p, AssignA(_, _), SucceedA(_, _), CommitA(_, _)) ==
    \/ AssignA(c, p)
    \/ Revoke(c, p)
    \/ Fetch(c, p)
    \/ Begin(c, p)
    \/ SucceedA(c, p)
    \/ Fail(c, p)
    \/ Retry(c, p)
    \/ DeadLetter(c, p)
    \/ CommitA(c, p)
    \/ CommitRejected(c, p)
    \/ CommitBroker(c, p)

ConsumerStep(c, p) == ConsumerStepWith(c, p, Assign, Succeed, Commit)

NextWith(AssignA(_, _), SucceedA(_, _), CommitA(_, _)) ==
    \/ EnvStep
    \/ \E p \in Partitions : PublishDeadLetter(p)
    \/ \E c \in Consumers, p \in Partitions :
          ConsumerStepWith(c, p, AssignA, SucceedA, CommitA)

Next == NextWith(Assign, Succeed, Commit)

\* Weak fairness of every consumer action that makes progress, and of the
\* relay.  Handler failures (Fail) and the advisory CommitBroker need none.
Fairness ==
    /\ \A p \in Partitions : WF_vars(PublishDeadLetter(p))
    /\ \A c \in Consumers, p \in Partitions :
          /\ WF_vars(Assign(c, p))
          /\ WF_vars(Revoke(c, p))
          /\ WF_vars(Fetch(c, p))
          /\ WF_vars(Begin(c, p))
          /\ WF_vars(Succeed(c, p))
          /\ WF_vars(Retry(c, p))
          /\ WF_vars(DeadLetter(c, p))
          /\ WF_vars(Commit(c, p))
          /\ WF_vars(CommitRejected(c, p))

Spec == Init /\ [][Next]_vars

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(***************************************************************************)
(* Safety.                                                                 *)
(***************************************************************************)

Range(s) == {s[i] : i \in 1..Len(s)}
NoRepeats(s) == \A i, j \in 1..Len(s) : i # j => s[i] # s[j]

\* Each offset's outcome -- its effects or its dead letter -- is committed at
\* most once, and the dead-letter topic holds each dead letter at most once.
NoDuplicateInv ==
    \A p \in Partitions :
        /\ NoRepeats(ledger[p].effects \o ledger[p].dlq)
        /\ NoRepeats(dlqTopic[p])

\* The ledger holds an outcome for exactly the offsets below its next, and the
\* dead-letter topic holds only committed dead letters: nothing the ledger
\* counts as handled was lost.
NoGapInv ==
    \A p \in Partitions :
        /\ Range(ledger[p].effects) \cup Range(ledger[p].dlq) = 0..(ledger[p].next - 1)
        /\ Range(dlqTopic[p]) \subseteq Range(ledger[p].dlq)

\* The per-consumer part of OffsetOrderInv, for one view l of partition p.
HolderOrderOK(l, p) ==
    l.epoch # 0 =>
        /\ l.base <= ledger[p].next
        /\ l.base + Len(l.win) <= log[p]
        /\ l.epoch = ledger[p].epoch => l.base = ledger[p].next

\* The LR-HtmqC invariant committed <= processed < next, made precise: the
\* advisory broker offset never runs ahead of the ledger, the ledger never
\* ahead of the log, and the holder of the current epoch starts its window at
\* the ledger's next and never fetches past the log end.
OffsetOrderInv ==
    \A p \in Partitions :
        /\ brokerOffset[p] <= ledger[p].next
        /\ ledger[p].next <= log[p]
        /\ \A c \in Consumers : HolderOrderOK(local[c][p], p)

\* No consumer holds an epoch the ledger has not issued.
EpochIssuedOK(l, p) == l.epoch <= ledger[p].epoch

\* No commit by a stale epoch is ever accepted: every commit since the latest
\* fence was made by the holder of that fence's epoch, no consumer holds an
\* epoch the ledger has not issued, and at most one holds the current one.
FencingInv ==
    \A p \in Partitions :
        /\ ledger[p].writer \in {0, ledger[p].epoch}
        /\ \A c \in Consumers : EpochIssuedOK(local[c][p], p)
        /\ \A c, d \in Consumers :
              (c # d /\ Held(c, p) /\ Held(d, p)) => local[c][p].epoch # local[d][p].epoch

SafetyInv == TypeOK /\ NoDuplicateInv /\ NoGapInv /\ OffsetOrderInv /\ FencingInv

-----------------------------------------------------------------------------
(***************************************************************************)
(* The inductive invariant IInv: the same conjunction, conjunct by         *)
(* conjunct, that proofs/ proves preserved by every action.  Each conjunct *)
(* is named so a failure points at the fact that broke.                    *)
(***************************************************************************)

\* The ledger's outcomes are exactly the offsets 0..next-1, each once.
LedgerExactInv == NoDuplicateInv /\ NoGapInv

\* dlqTopic is a prefix of the ledger's outbox (the relay's position is the topic).
OutboxPrefixInv ==
    \A p \in Partitions :
        /\ Len(dlqTopic[p]) <= Len(ledger[p].dlq)
        /\ \A i \in 1..Len(dlqTopic[p]) : dlqTopic[p][i] = ledger[p].dlq[i]

\* A window is: finished slots, then at most one started slot (the head),
\* then untouched Pending slots; retry counts stay within their bound.
WindowShapeOK(l) ==
    LET w == l.win IN
    /\ \A i \in 1..Len(w) :
          /\ w[i].st = Pending => w[i].tries = 0
          /\ w[i].st = Processing => w[i].tries <= MaxRetries
          /\ w[i].st \in {Failed, DeadLettered} => w[i].tries >= 1
          /\ w[i].st = DeadLettered => w[i].tries > MaxRetries
          /\ i > HeadIndex(w) => w[i] = Slot(Pending, 0)
    /\ l.epoch = 0 => l = NotHeld

WindowShapeInv == \A c \in Consumers, p \in Partitions : WindowShapeOK(local[c][p])

\* Nothing is held by a dead consumer.
AliveHolderInv ==
    \A c \in Consumers, p \in Partitions : ~alive[c] => ~Held(c, p)

IInv ==
    /\ TypeOK
    /\ LedgerExactInv
    /\ OutboxPrefixInv
    /\ OffsetOrderInv
    /\ FencingInv
    /\ WindowShapeInv
    /\ AliveHolderInv

-----------------------------------------------------------------------------
(***************************************************************************)
(* Liveness.                                                               *)
(***************************************************************************)

\* Every partition is owned by a live consumer.
Settled == \A p \in Partitions : owner[p] # NoConsumer /\ alive[owner[p]]

AllCommitted == \A p \in Partitions : ledger[p].next = log[p]

\* Once producing, rebalancing and crashing stop with every partition owned
\* by a live consumer, every partition's ledger reaches its log end and
\* stays there (<>AllCommitted alone would hold at Init, where both are 0).
CompletenessProp == (<>[][~EnvStep]_vars /\ <>[]Settled) => <>[]AllCommitted

THEOREM Spec => [](TypeOK /\ IInv)
THEOREM Spec => [](NoDuplicateInv /\ NoGapInv /\ OffsetOrderInv /\ FencingInv)
THEOREM LiveSpec => CompletenessProp
=============================================================================
