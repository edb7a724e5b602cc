// Creating a topic and waiting until every partition has a leader, and
// asking the brokers again while they answer retriably.
//
// kafkajs's createTopics({ waitForLeaders: true }) retries only
// LEADER_NOT_AVAILABLE; a broker that has not yet applied the new topic's
// metadata answers UNKNOWN_TOPIC_OR_PARTITION, which it throws at once (seen
// on Kafka 4.4 with the machine busy), and its admin does not retry a
// NOT_LEADER answer of a partition just created either.  Here every
// retriable answer is asked again until the deadline.

import type { Admin, ITopicConfig } from 'kafkajs';

/** Runs `ask` until it returns a value, again after every retriable kafkajs error, until `timeoutMs`. */
export async function askUntilAnswered<T>(what: string, ask: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const v = await ask();
      if (v !== undefined) return v;
    } catch (e) {
      if (!(e as { retriable?: boolean }).retriable) throw e;
      last = String(e);
    }
    if (Date.now() > until) throw new Error(`${what}: no answer after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Creates the topic (false: it existed) and resolves once every partition has a leader. */
export async function createTopicReady(admin: Admin, topic: ITopicConfig, timeoutMs = 60000): Promise<boolean> {
  const created = await admin.createTopics({ topics: [topic], waitForLeaders: false });
  const partitions = topic.numPartitions ?? 1;
  await askUntilAnswered(`topic ${topic.topic}: every partition with a leader`, async () => {
    const ps = (await admin.fetchTopicMetadata({ topics: [topic.topic] })).topics[0]?.partitions ?? [];
    return ps.length === partitions && ps.every((p) => p.leader >= 0) ? true : undefined;
  }, timeoutMs);
  return created;
}
