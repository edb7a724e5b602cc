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
(*  - The ledger write is one atomic step (one database transaction), but *)
(*    it is not the consumer's step: the consumer sends it (WriteLedger),  *)
(*    the database applies or refuses it at some later point (ApplyWrite), *)
(*    and the answer reaches the consumer later still (Commit,             *)
(*    CommitRejected) or never (LoseAnswer: the connection dropped, before *)
(*    or after COMMIT was sent).  A write outlives the consumer that sent  *)
(*    it: it is in writes, which Crash does not touch.  After a lost       *)
(*    answer the consumer waits until its write is settled (applied,       *)
(*    refused, or aborted with its connection: the runtime terminates the  *)
(*    old database backend) and decides from the ledger row (Recover).     *)
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
    MaxRetries,   \* retries after the first failure before dead-lettering
    SplitWrite    \* TRUE: the ledger write in its real steps; FALSE: one step (see WriteAndAnswer)

ASSUME /\ MaxOffset \in Nat
       /\ SplitWrite \in BOOLEAN
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
    writes,       \* writes[p]: WriteLedger transactions for p the database has not settled (see WriteRec)
    local,        \* local[c][p]: consumer c's volatile state for p (see LocalRec)
    lastAction    \* history: the action (name and arguments) that produced this state

vars == <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes, local, lastAction>>

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

(* The answer to the write in flight, as the consumer has it.               *)
NoAnswer  == "NoAnswer"    \* none yet (or no write in flight: writeUpTo = 0)
Committed == "Committed"   \* the ledger applied it: input LedgerCommitted(p, upTo)
Rejected  == "Rejected"    \* the ledger refused it, nothing applied: input LedgerRejected(p)
Unknown   == "Unknown"     \* the answer was lost: input LedgerUnknown(p); Recover decides

Answers == {NoAnswer, Committed, Rejected, Unknown}

(* A consumer's volatile view of one partition; lost on Crash.               *)
(*   epoch     : the fencing token it holds; 0 = the partition is not held   *)
(*   gen       : the generation in which it was assigned                     *)
(*   base      : first offset of the window = the ledger's next as it knows  *)
(*   win       : the in-flight window: win[i] is the slot of offset base+i-1 *)
(*   writeUpTo : upTo of its WriteLedger in flight, 0 = none (at most one)   *)
(*   answer    : what it knows of that write's outcome                       *)
LocalRec(epoch, g, base, win, writeUpTo, answer) ==
    [epoch |-> epoch, gen |-> g, base |-> base, win |-> win,
     writeUpTo |-> writeUpTo, answer |-> answer]
NotHeld == LocalRec(0, 0, 0, <<>>, 0, NoAnswer)

(* One ledger write (command WriteLedger(p, epoch, expectedNext, upTo)), as  *)
(* the database holds it until it settles.  It carries its content, so it    *)
(* can still apply after its sender crashed.                                 *)
(*   c            : the consumer whose connection it came on (for its answer)*)
(*   epoch        : the sender's fencing token                               *)
(*   expectedNext : the ledger's next the sender expects (its window's base) *)
(*   upTo         : the next offset after the write                          *)
(*   effects, dlq : the outcomes of expectedNext..upTo-1, as the ledger      *)
(*                  appends them                                             *)
WriteRec(c, epoch, expectedNext, upTo, effects, dlq) ==
    [c |-> c, epoch |-> epoch, expectedNext |-> expectedNext, upTo |-> upTo,
     effects |-> effects, dlq |-> dlq]

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
          /\ IsFiniteSet(writes[p])
          /\ \A w \in writes[p] :
                /\ w.c \in Consumers
                /\ w.epoch \in Nat
                /\ w.expectedNext \in Offsets
                /\ w.upTo \in Offsets
                /\ w.effects \in Seq(Offsets)
                /\ w.dlq \in Seq(Offsets)
    /\ \A c \in Consumers, p \in Partitions :
          /\ local[c][p].epoch \in Nat
          /\ local[c][p].gen \in Nat
          /\ local[c][p].base \in Offsets
          /\ local[c][p].win \in Seq(SlotRecs)
          /\ Len(local[c][p].win) <= Window
          /\ local[c][p].writeUpTo \in Offsets
          /\ local[c][p].answer \in Answers
    /\ lastAction.name \in STRING

Init ==
    /\ log = [p \in Partitions |-> 0]
    /\ owner = [p \in Partitions |-> NoConsumer]
    /\ gen = [p \in Partitions |-> 0]
    /\ alive = [c \in Consumers |-> TRUE]
    /\ brokerOffset = [p \in Partitions |-> 0]
    /\ ledger = [p \in Partitions |-> LedgerRec(0, 0, 0, <<>>, <<>>)]
    /\ dlqTopic = [p \in Partitions |-> <<>>]
    /\ writes = [p \in Partitions |-> {}]
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
    /\ UNCHANGED <<owner, gen, alive, brokerOffset, ledger, dlqTopic, writes, local>>

\* The coordinator gives p to c (or to nobody; c may be the owner again, as an
\* eager rebalance revokes everything) in a new generation.  The old owner is
\* not told synchronously: until it runs Revoke it is a zombie.
Rebalance(p, c) ==
    /\ c # NoConsumer \/ owner[p] # NoConsumer
    /\ owner' = [owner EXCEPT ![p] = c]
    /\ gen' = [gen EXCEPT ![p] = @ + 1]
    /\ lastAction' = Label("Rebalance", <<p, c>>)
    /\ UNCHANGED <<log, alive, brokerOffset, ledger, dlqTopic, writes, local>>

\* Consumer c dies (SIGKILL): all its volatile state is gone, at any point.
Crash(c) ==
    /\ alive[c]
    /\ alive' = [alive EXCEPT ![c] = FALSE]
    /\ local' = [local EXCEPT ![c] = [p \in Partitions |-> NotHeld]]
    /\ lastAction' = Label("Crash", <<c>>)
    /\ UNCHANGED <<log, owner, gen, brokerOffset, ledger, dlqTopic, writes>>

\* Consumer c's process starts again, with empty volatile state.
Restart(c) ==
    /\ ~alive[c]
    /\ alive' = [alive EXCEPT ![c] = TRUE]
    /\ lastAction' = Label("Restart", <<c>>)
    /\ UNCHANGED <<log, owner, gen, brokerOffset, ledger, dlqTopic, writes, local>>

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
          /\ local' = [local EXCEPT ![c][p] = LocalRec(e, gen[p], ledger[p].next, <<>>, 0, NoAnswer)]
          /\ lastAction' = Label("Assign", <<c, p, e, ledger[p].next>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

(***************************************************************************)
(* The ledger write, split where the real one splits:                      *)
(*                                                                         *)
(*   WriteLedger    the consumer sends the write            (command)      *)
(*   ApplyWrite     the database applies or refuses it, atomically         *)
(*   Commit         the consumer takes LedgerCommitted       (input)       *)
(*   CommitRejected the consumer takes LedgerRejected        (input)       *)
(*   LoseAnswer     the connection drops: LedgerUnknown      (input, fault)*)
(*   AbortWrite     the database drops a write whose connection is gone    *)
(*   Recover        the row, read once the write settled: LedgerRead       *)
(*                                                                         *)
(* A write in flight lives in writes[p], outside local, so a crash of its  *)
(* sender neither applies nor cancels it.                                  *)
(***************************************************************************)

\* The ledger's acceptance test, in one place: the write carries the ledger's
\* current epoch and expects exactly the ledger's next.
CommitAccepted(w, p) ==
    /\ w.epoch = ledger[p].epoch
    /\ w.expectedNext = ledger[p].next

\* The write's sender still holds the epoch it wrote with and waits for the
\* answer on the same connection; otherwise an answer has nowhere to go.
AwaitsAnswer(w, p) ==
    /\ local[w.c][p].epoch = w.epoch
    /\ local[w.c][p].writeUpTo # 0
    /\ local[w.c][p].answer = NoAnswer

\* No write of epoch e is still unsettled in the database.
WriteSettled(p, e) == \A w \in writes[p] : w.epoch # e

\* Command WriteLedger(p, epoch, base, base+k): the first k finished offsets
\* of the window, with their effects and dead letters, in one transaction.
\* Any k up to the finished prefix (group commit batches as it likes); one
\* write in flight per partition.  Handling goes on meanwhile: Fetch, Begin,
\* Succeed and the rest do not wait for the answer.
WriteLedger(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].writeUpTo = 0
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
              w == WriteRec(c, l.epoch, l.base, upTo,
                            OffsetsIn(l.base, l.win, k, Done),
                            OffsetsIn(l.base, l.win, k, DeadLettered))
          IN /\ writes' = [writes EXCEPT ![p] = @ \cup {w}]
             /\ local' = [local EXCEPT ![c][p].writeUpTo = upTo]
             /\ lastAction' = Label("WriteLedger", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic>>

\* The database settles write w: it applies whole iff CommitAccepted (next,
\* writer, effects and dead letters in one transaction) and otherwise applies
\* nothing.  The answer goes to the sender if it still waits on that
\* connection; a crashed, revoked or answer-less sender gets none.  It may
\* happen at any time after WriteLedger: before or after its sender crashed.
\* (AcceptA is the acceptance test: CommitAccepted, or a mutant's.)
ApplyWriteWith(p, w, AcceptA(_, _)) ==
    /\ w \in writes[p]
    /\ writes' = [writes EXCEPT ![p] = @ \ {w}]
    /\ LET ok == AcceptA(w, p)
           answer == IF ok THEN Committed ELSE Rejected
       IN /\ ledger' = IF ok THEN [ledger EXCEPT
                                      ![p].next = w.upTo,
                                      ![p].writer = w.epoch,
                                      ![p].effects = @ \o w.effects,
                                      ![p].dlq = @ \o w.dlq]
                            ELSE ledger
          /\ local' = IF AwaitsAnswer(w, p)
                         THEN [local EXCEPT ![w.c][p].answer = answer]
                         ELSE local
          /\ lastAction' = Label("ApplyWrite", <<p, w.c, w.epoch, w.expectedNext, w.upTo, answer>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

ApplyWrite(p, w) == ApplyWriteWith(p, w, CommitAccepted)

\* Fault: the database drops a write before COMMIT because its connection is
\* gone (its sender crashed or lost the answer, and the runtime terminated
\* the backend).  Nothing is applied and nobody is told.
AbortWrite(p, w) ==
    /\ w \in writes[p]
    /\ ~AwaitsAnswer(w, p)
    /\ writes' = [writes EXCEPT ![p] = @ \ {w}]
    /\ lastAction' = Label("AbortWrite", <<p, w.c, w.epoch, w.expectedNext, w.upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, local>>

\* Fault, and input LedgerUnknown(p): the connection dropped while the write
\* was in flight -- before COMMIT reached the database, or after, with the
\* answer on the way.  The consumer cannot tell which.  Command ReadLedger(p):
\* the runtime terminates the old backend (so the write settles: ApplyWrite or
\* AbortWrite), then reads the row for Recover.
LoseAnswer(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].writeUpTo # 0
    /\ local[c][p].answer # Unknown
    /\ local' = [local EXCEPT ![c][p].answer = Unknown]
    /\ lastAction' = Label("LoseAnswer", <<c, p, local[c][p].epoch, local[c][p].writeUpTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

\* What Recover decides from the row (epoch, next) for the write it lost the
\* answer of; the row is read only once that write settled.  The consumer
\* has one write in flight per partition and only it writes with its epoch,
\* so under its epoch the row's next is either its write's upTo (applied) or
\* its write's expectedNext (not applied); any other row means a newer epoch
\* fenced it -- exactly when the ledger would have refused the write.
RecoverDecision(l, row) ==
    IF row.epoch = l.epoch /\ row.next = l.writeUpTo THEN Committed
    ELSE IF row.epoch = l.epoch /\ row.next = l.base THEN NoAnswer
    ELSE Rejected

\* Input LedgerRead(p, epoch, next): the row read after the write settled.
\* Committed and Rejected become the write's answer, taken next by Commit or
\* CommitRejected (the core does both in the one step); NoAnswer means the
\* write never applied and will not: the window is as it was, and the next
\* WriteLedger sends it again.  Never the same write twice without a read.
\* The read and the decision are one step: between them only a newer fence
\* (and its holder's writes) can change the row, and those commute with a
\* step that changes only local[c][p].
Recover(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].answer = Unknown
    /\ WriteSettled(p, local[c][p].epoch)
    /\ LET d == RecoverDecision(local[c][p], ledger[p]) IN
          /\ local' = [local EXCEPT ![c][p].answer = d,
                                    ![c][p].writeUpTo = IF d = NoAnswer THEN 0 ELSE @]
          /\ lastAction' = Label("Recover", <<c, p, ledger[p].epoch, ledger[p].next, d>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

\* Input LedgerCommitted(p, upTo): the ledger holds the write; the window
\* drops the committed prefix and starts at upTo.  Then CommitBroker may
\* follow, and a Pause for a full window is lifted (Resume).
Commit(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].answer = Committed
    /\ LET l == local[c][p]
           k == l.writeUpTo - l.base
       IN /\ local' = [local EXCEPT ![c][p].base = l.writeUpTo,
                                    ![c][p].win = SubSeq(@, k + 1, Len(@)),
                                    ![c][p].writeUpTo = 0,
                                    ![c][p].answer = NoAnswer]
          /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, l.writeUpTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

\* Input LedgerRejected(p): the ledger refused the write (a newer epoch fenced
\* it).  Nothing was applied; c drops the partition.
CommitRejected(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].answer = Rejected
    /\ local' = [local EXCEPT ![c][p] = NotHeld]
    /\ lastAction' = Label("CommitRejected", <<c, p, local[c][p].epoch>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes>>

\* The ledger write as one step, for the broad model-checking configs
\* (SplitWrite = FALSE): WriteLedger, ApplyWrite and Commit or CommitRejected
\* with nothing in between and no fault of the write.  It is their
\* composition exactly (same k, same acceptance test, same post-state, writes
\* and the answer fields untouched), so every behaviour with it is one of the
\* split write up to stuttering.  The configs that set SplitWrite = TRUE
\* (MC_LostAnswer, MC_Liveness, MC_IInv, MC_Conformance, the mutants) and the
\* Coq proofs check the split write with its faults.
WriteAndAnswer(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].writeUpTo = 0
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
              w == WriteRec(c, l.epoch, l.base, upTo,
                            OffsetsIn(l.base, l.win, k, Done),
                            OffsetsIn(l.base, l.win, k, DeadLettered))
          IN IF CommitAccepted(w, p)
             THEN /\ ledger' = [ledger EXCEPT ![p].next = upTo,
                                              ![p].writer = l.epoch,
                                              ![p].effects = @ \o w.effects,
                                              ![p].dlq = @ \o w.dlq]
                  /\ local' = [local EXCEPT ![c][p].base = upTo,
                                            ![c][p].win = SubSeq(@, k + 1, Len(@))]
                  /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, upTo>>)
             ELSE /\ UNCHANGED ledger
                  /\ local' = [local EXCEPT ![c][p] = NotHeld]
                  /\ lastAction' = Label("CommitRejected", <<c, p, l.epoch>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic, writes>>

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
    /\ UNCHANGED <<log, owner, gen, alive, ledger, dlqTopic, writes, local>>

\* The outbox relay: publishes the next committed dead letter of p to the
\* dead-letter topic.  Its position is read from the topic itself (the source
\* offset of the last dead letter there), so a crash of the relay at any point
\* neither skips nor repeats one.
PublishDeadLetter(p) ==
    /\ Len(dlqTopic[p]) < Len(ledger[p].dlq)
    /\ dlqTopic' = [dlqTopic EXCEPT ![p] = Append(@, ledger[p].dlq[Len(@) + 1])]
    /\ lastAction' = Label("PublishDeadLetter", <<p, ledger[p].dlq[Len(dlqTopic[p]) + 1]>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, ledger, writes, local>>

-----------------------------------------------------------------------------
(* Next is assembled from its actions so that a mutant (spec/mutants/) can  *)
(* swap exactly one design decision and keep everything else.               *)

EnvStep ==
    \/ \E p \in Partitions : Produce(p)
    \/ \E p \in Partitions, c \in Consumers \cup {NoConsumer} : Rebalance(p, c)
    \/ \E c \in Consumers : Crash(c) \/ Restart(c)
    \/ \E c \in Consumers, p \in Partitions : LoseAnswer(c, p)
    \/ \E p \in Partitions : \E w \in writes[p] : AbortWrite(p, w)

\* The database's own steps (not faults): settling writes, relaying dead letters.
LedgerStepWith(p, ApplyA(_, _)) ==
    \/ \E w \in writes[p] : ApplyA(p, w)
    \/ PublishDeadLetter(p)

ConsumerStepWith(c, p, AssignA(_, _), SucceedA(_, _), WriteA(_, _), RecoverA(_, _)) ==
    \/ AssignA(c, p)
    \/ Revoke(c, p)
    \/ Fetch(c, p)
    \/ Begin(c, p)
    \/ SucceedA(c, p)
    \/ Fail(c, p)
    \/ Retry(c, p)
    \/ DeadLetter(c, p)
    \/ IF SplitWrite
          THEN \/ WriteA(c, p)
               \/ RecoverA(c, p)
               \/ Commit(c, p)
               \/ CommitRejected(c, p)
          ELSE WriteAndAnswer(c, p)
    \/ CommitBroker(c, p)

ConsumerStep(c, p) == ConsumerStepWith(c, p, Assign, Succeed, WriteLedger, Recover)

NextWith(AssignA(_, _), SucceedA(_, _), WriteA(_, _), ApplyA(_, _), RecoverA(_, _)) ==
    \/ EnvStep
    \/ \E p \in Partitions : LedgerStepWith(p, ApplyA)
    \/ \E c \in Consumers, p \in Partitions :
          ConsumerStepWith(c, p, AssignA, SucceedA, WriteA, RecoverA)

Next == NextWith(Assign, Succeed, WriteLedger, ApplyWrite, Recover)

\* Weak fairness of every consumer action that makes progress, of the
\* database settling writes, and of the relay.  Handler failures (Fail), the
\* advisory CommitBroker and the faults (LoseAnswer, AbortWrite) need none.
Fairness ==
    /\ \A p \in Partitions :
          /\ WF_vars(\E w \in writes[p] : ApplyWrite(p, w))
          /\ WF_vars(PublishDeadLetter(p))
    /\ \A c \in Consumers, p \in Partitions :
          /\ WF_vars(Assign(c, p))
          /\ WF_vars(Revoke(c, p))
          /\ WF_vars(Fetch(c, p))
          /\ WF_vars(Begin(c, p))
          /\ WF_vars(Succeed(c, p))
          /\ WF_vars(Retry(c, p))
          /\ WF_vars(DeadLetter(c, p))
          /\ SplitWrite =>
                /\ WF_vars(WriteLedger(c, p))
                /\ WF_vars(Recover(c, p))
                /\ WF_vars(Commit(c, p))
                /\ WF_vars(CommitRejected(c, p))
          /\ ~SplitWrite => WF_vars(WriteAndAnswer(c, p))

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
        /\ l.epoch = ledger[p].epoch =>
              \/ l.base = ledger[p].next
              \/ l.writeUpTo # 0 /\ l.writeUpTo = ledger[p].next

\* The LR-HtmqC invariant committed <= processed < next, made precise: the
\* advisory broker offset never runs ahead of the ledger, the ledger never
\* ahead of the log, and the holder of the current epoch starts its window at
\* the ledger's next -- or, while the answer to its applied write has not
\* reached it, at that write's expectedNext, with the ledger at its upTo --
\* and never fetches past the log end.
OffsetOrderInv ==
    \A p \in Partitions :
        /\ brokerOffset[p] <= ledger[p].next
        /\ ledger[p].next <= log[p]
        /\ \A c \in Consumers : HolderOrderOK(local[c][p], p)

\* No consumer holds an epoch the ledger has not issued.
EpochIssuedOK(l, p) == l.epoch <= ledger[p].epoch

\* No commit by a stale epoch is ever accepted: every commit since the latest
\* fence was made by the holder of that fence's epoch, no consumer holds and
\* no write carries an epoch the ledger has not issued, and at most one
\* consumer holds the current one.
FencingInv ==
    \A p \in Partitions :
        /\ ledger[p].writer \in {0, ledger[p].epoch}
        /\ \A c \in Consumers : EpochIssuedOK(local[c][p], p)
        /\ \A w \in writes[p] : w.epoch <= ledger[p].epoch
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
\* then untouched Pending slots; retry counts stay within their bound; a
\* write in flight covers a non-empty part of the finished prefix, and only
\* a write in flight has an answer.
WindowShapeOK(l) ==
    LET w == l.win IN
    /\ \A i \in 1..Len(w) :
          /\ w[i].st = Pending => w[i].tries = 0
          /\ w[i].st = Processing => w[i].tries <= MaxRetries
          /\ w[i].st \in {Failed, DeadLettered} => w[i].tries >= 1
          /\ w[i].st = DeadLettered => w[i].tries > MaxRetries
          /\ i > HeadIndex(w) => w[i] = Slot(Pending, 0)
    /\ l.epoch = 0 => l = NotHeld
    /\ l.writeUpTo = 0 => l.answer = NoAnswer
    /\ l.writeUpTo # 0 => l.base < l.writeUpTo /\ l.writeUpTo <= l.base + FinishedPrefixLen(w)

WindowShapeInv == \A c \in Consumers, p \in Partitions : WindowShapeOK(local[c][p])

\* Nothing is held by a dead consumer.
AliveHolderInv ==
    \A c \in Consumers, p \in Partitions : ~alive[c] => ~Held(c, p)

\* A write the database holds carries exactly the outcomes of its range,
\* each once, within the log, and an epoch the ledger issued.
WriteRangeOK(w, p) ==
    /\ w.epoch \in 1..ledger[p].epoch
    /\ w.expectedNext < w.upTo
    /\ w.upTo <= log[p]
    /\ Range(w.effects) \cup Range(w.dlq) = w.expectedNext..(w.upTo - 1)
    /\ NoRepeats(w.effects \o w.dlq)

\* What a consumer's answer says agrees with the ledger: a write awaiting
\* its answer is still in the database, and a Committed answer's upTo is
\* the ledger's next if the epoch is still current (below it if not).
AnswerOK(l, p) ==
    /\ (l.epoch # 0 /\ l.writeUpTo # 0 /\ l.answer = NoAnswer) => ~WriteSettled(p, l.epoch)
    /\ l.answer = Committed =>
          /\ l.writeUpTo <= ledger[p].next
          /\ l.epoch = ledger[p].epoch => ledger[p].next = l.writeUpTo

\* The writes in flight: well formed; one per epoch; one of the current
\* epoch expects the ledger's next; one whose epoch is held was sent by its
\* holder, for the holder's window and write, and its answer has not
\* arrived (a settled write leaves writes).
WriteInFlightInv ==
    \A p \in Partitions :
        /\ \A w \in writes[p] : WriteRangeOK(w, p)
        /\ \A w \in writes[p] : w.epoch = ledger[p].epoch => w.expectedNext = ledger[p].next
        /\ \A v, w \in writes[p] : v.epoch = w.epoch => v = w
        /\ \A w \in writes[p], c \in Consumers :
              local[c][p].epoch = w.epoch =>
                  /\ c = w.c
                  /\ local[c][p].base = w.expectedNext
                  /\ local[c][p].writeUpTo = w.upTo
                  /\ local[c][p].answer \in {NoAnswer, Unknown}
        /\ \A c \in Consumers : AnswerOK(local[c][p], p)

IInv ==
    /\ TypeOK
    /\ LedgerExactInv
    /\ OutboxPrefixInv
    /\ OffsetOrderInv
    /\ FencingInv
    /\ WindowShapeInv
    /\ AliveHolderInv
    /\ WriteInFlightInv

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
