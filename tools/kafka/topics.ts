// Creating a topic and waiting until every partition has a leader.
//
// kafkajs's createTopics({ waitForLeaders: true }) retries only
// LEADER_NOT_AVAILABLE; a broker that has not yet applied the new topic's
// metadata answers UNKNOWN_TOPIC_OR_PARTITION, which it throws at once (seen
// on Kafka 4.4 with the machine busy). Here every retriable answer is asked
// again until the deadline.

import type { Admin, ITopicConfig } from 'kafkajs';

export async function createTopicReady(admin: Admin, topic: ITopicConfig, timeoutMs = 60000): Promise<void> {
  await admin.createTopics({ topics: [topic], waitForLeaders: false });
  const partitions = topic.numPartitions ?? 1;
  const until = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic.topic] });
      const ps = meta.topics[0]?.partitions ?? [];
      if (ps.length === partitions && ps.every((p) => p.leader >= 0)) return;
      last = `${ps.filter((p) => p.leader >= 0).length} of ${partitions} partitions have a leader`;
    } catch (e) {
      if (!(e as { retriable?: boolean }).retriable) throw e;
      last = String(e);
    }
    if (Date.now() > until) throw new Error(`topic ${topic.topic}: not ready after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
