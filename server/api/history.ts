/**
 * `GET /rt/api/history?topic=&since=&limit=&epoch=`: a topic's messages without subscribing, in order, with
 * their sequence numbers: after `since` (a page of at most `limit`; `more` says whether to ask again from the
 * last one), or the last `limit`. A `since` that history can no longer continue is answered with a `reset`
 * marker, as a subscribing client gets one, never with a silent gap.
 */
import type { Hono } from 'hono';
import { ApiError } from './errors.ts';
import type { ApiContext } from './index.ts';
import { API_PATHS } from './paths.ts';
import { checkCount, checkTopic } from './validate.ts';

const DEFAULT_LIMIT = 100;

export function mountHistory(app: Hono, api: ApiContext): void {
  const { hub, limits } = api;
  app.get(
    API_PATHS.history,
    api.handle(async (c) => {
      const topic = checkTopic(c.req.query('topic'));
      const since = checkCount(c.req.query('since'), 'since');
      const limit = checkCount(c.req.query('limit'), 'limit') ?? Math.min(DEFAULT_LIMIT, limits.maxHistory);
      if (limit < 1 || limit > limits.maxHistory) {
        throw new ApiError('ERR_INVALID', `limit must be 1 to ${limits.maxHistory}`, {
          field: 'limit',
          limit: limits.maxHistory,
        });
      }
      const epoch = c.req.query('epoch') || undefined;
      if (!hub.history) throw new ApiError('ERR_UNSUPPORTED', 'this hub cannot read history');
      const page = await hub.history(topic, {
        limit,
        ...(since === undefined ? {} : { since }),
        ...(epoch === undefined ? {} : { epoch }),
      });
      const last = page.messages.at(-1);
      c.header('cache-control', 'no-store');
      return c.json({
        topic,
        epoch: page.epoch,
        head: page.head,
        messages: page.messages,
        more: last !== undefined && last.seq < page.head,
        ...(page.reset ? { reset: page.reset } : {}),
      });
    }),
  );
}
