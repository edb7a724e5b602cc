// Producing the soak's input so that "acknowledged" means "in the topic".
//
// kafkajs 2.2.4 `producer.send` can resolve without having sent some of its
// records.  It keeps one response per broker across its retries; when a
// partition leader dies, the first attempt answers for the brokers that are
// still up and fails for the dead one, the retry re-reads the metadata, and
// the partitions that moved to a broker which already answered are never
// sent: `send` resolves, acks=all, and those records are nowhere (seen here:
// `tools/kafka/cluster.sh kill` of a leader, then one send of 5,000 records
// over 6 partitions resolves with 4 partitions in its answer and the other
// two partitions' 833 records absent from all three replicas).  Sending one
// partition per call never meets it (a single broker per call); checking the
// answer covers every partition catches it anywhere else.

/** The part of a kafkajs producer the soak uses. */
export interface PartitionSender {
  send(record: {
    topic: string; acks: number;
    messages: { partition: number; key: string; value: string }[];
  }): Promise<readonly { partition: number; errorCode: number; baseOffset?: string }[]>;
}

export interface SendReport {
  /** Sends whose answer left out a partition they carried (each one sent again). */
  readonly partialAnswers: number;
}

/**
 * Sends messages with acks=all, one call per partition, all partitions at
 * once; a call whose answer does not name its partition with error code 0 is
 * sent again (up to `attempts` times), then fails naming the partition.
 */
export async function sendAcknowledged(
  producer: PartitionSender, topic: string,
  messages: readonly { partition: number; key: string; value: string }[],
  attempts = 5,
): Promise<SendReport> {
  const byPartition = new Map<number, { partition: number; key: string; value: string }[]>();
  for (const m of messages) {
    let list = byPartition.get(m.partition);
    if (list === undefined) byPartition.set(m.partition, list = []);
    list.push(m);
  }
  let partialAnswers = 0;
  await Promise.all([...byPartition].map(async ([partition, list]) => {
    for (let attempt = 1; ; attempt++) {
      const answer = await producer.send({ topic, acks: -1, messages: list });
      if (answer.some((a) => a.partition === partition && a.errorCode === 0)) return;
      partialAnswers++;
      if (attempt >= attempts) {
        throw new Error(`${topic}[${partition}]: ${attempts} sends of ${list.length} records resolved without an answer for the partition ` +
          `(answers: ${JSON.stringify(answer)})`);
      }
    }
  }));
  return { partialAnswers };
}
