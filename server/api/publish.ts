/**
 * `POST /rt/api/publish` and `POST /rt/api/batch`: a backend's messages go through the hub exactly like a
 * client's (sequence number, history, every node on Redis). A batch is checked whole before anything is
 * published, so bad input changes nothing; if the hub fails part-way, the answer lists per message which were
 * published, and with `id`s the whole batch can be sent again safely.
 */
import type { Hono } from 'hono';
import { asObject, readJson } from './body.ts';
import { ApiError } from './errors.ts';
import { IdempotencyCache } from './idempotency.ts';
import type { ApiContext } from './index.ts';
import { API_PATHS } from './paths.ts';
import { checkPublishItem, type PublishItem } from './validate.ts';

/** Topics of one batch published at once; messages of one topic always go one after the other, in order. */
const BATCH_CONCURRENCY = 32;

/** Room for the envelope around the largest `data` in a single publish's body. */
const ENVELOPE_BYTES = 16 * 1024;

type BatchResult = { topic: string; seq: number } | { topic: string; error: 'ERR_UNAVAILABLE' };

export function mountPublish(app: Hono, api: ApiContext): void {
  const { hub, limits } = api;
  const ids = new IdempotencyCache(limits.idempotencyTtlMs);
  const publish = (item: PublishItem): number | Promise<number> => {
    if (item.id === undefined) return hub.publish(item.topic, item.data);
    // Scoped to the topic, and apart from the clients' keys (`<session>/<id>`).
    const key = `api/${item.topic}/${item.id}`;
    return ids.run(key, () => hub.publish(item.topic, item.data, { idempotencyKey: key }));
  };

  app.post(
    API_PATHS.publish,
    api.handle(async (c) => {
      const body = asObject(await readJson(c, limits.maxMessageBytes + ENVELOPE_BYTES));
      const item = checkPublishItem(body, limits.maxMessageBytes);
      const seq = await publish(item);
      return c.json({ topic: item.topic, seq });
    }),
  );

  app.post(
    API_PATHS.batch,
    api.handle(async (c) => {
      const body = asObject(await readJson(c, limits.maxBatchBytes));
      const messages = body.messages;
      if (!Array.isArray(messages)) {
        throw new ApiError('ERR_INVALID', 'messages must be an array of { topic, data, id? }', {
          field: 'messages',
        });
      }
      if (messages.length > limits.maxBatchMessages) {
        throw new ApiError(
          'ERR_TOO_LARGE',
          `${messages.length} messages, at most ${limits.maxBatchMessages} per batch`,
          { field: 'messages', limit: limits.maxBatchMessages },
        );
      }
      const items = messages.map((m, index) => checkPublishItem(m, limits.maxMessageBytes, index));
      const results = await publishBatch(items, publish);
      if (results.some((r) => 'error' in r)) {
        c.header('retry-after', '1');
        c.header('cache-control', 'no-store');
        return c.json(
          {
            error: 'ERR_UNAVAILABLE',
            message: 'the hub failed part-way: results say which messages were published',
            results,
          },
          503,
        );
      }
      return c.json({ results });
    }),
  );
}

/** Every topic's messages in order; topics side by side (at most BATCH_CONCURRENCY at a time). */
async function publishBatch(
  items: readonly PublishItem[],
  publish: (item: PublishItem) => number | Promise<number>,
): Promise<BatchResult[]> {
  const byTopic = new Map<string, number[]>();
  items.forEach((item, index) => {
    const list = byTopic.get(item.topic);
    if (list) list.push(index);
    else byTopic.set(item.topic, [index]);
  });
  const results: BatchResult[] = items.map((item) => ({ topic: item.topic, error: 'ERR_UNAVAILABLE' }));
  const queue = [...byTopic.values()];
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      for (const index of group) {
        const item = items[index] as PublishItem;
        try {
          results[index] = { topic: item.topic, seq: await publish(item) };
        } catch {
          // The rest of this topic stays unpublished (its order must not skip a message); reported per item.
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, queue.length) }, worker));
  return results;
}
