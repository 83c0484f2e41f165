/**
 * The Redis keys of one topic. On a Redis Cluster they share the topic's hash tag (`{topic}`), so the sequence
 * hash, the history stream, the live channel and the idempotency keys are in one slot: one script still does a
 * publish atomically, on one shard, and SPUBLISH from that script reaches the shard's subscribers only. A
 * single Redis keeps the untagged names it always had (an upgrade keeps the topics' numbering).
 */
import type { RedisLink } from './connection.ts';

export interface TopicKeys {
  /** Hash: s = head sequence, e = epoch, c = last age-trim check. */
  readonly meta: string;
  readonly history: string;
  readonly channel: string;
  /** The key recording a publish's idempotency key (digest). */
  idem(digest: string): string;
}

export function topicKeys(link: RedisLink, topic: string): TopicKeys {
  const name = link.sharded ? link.tag(topic) : topic;
  return {
    meta: link.key('seq', name),
    history: link.key('hist', name),
    channel: link.key('chan', name),
    idem: (digest) => (link.sharded ? link.key('idem', name, digest) : link.key('idem', digest)),
  };
}
