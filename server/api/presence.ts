/**
 * `GET /rt/api/presence?topic=`: who is present on a topic, for a backend in any language (no subscription and
 * no `authorize` hook: the API key is the permission). Answers `{ topic, count, clients: [{ client, user?,
 * info? }] }` from the same presence store the protocol writes, so with Redis it is every node's clients.
 * Mount it with `mountServerApi(app, { key, hub, routes: [presenceRoutes(protocol.presence)] })`.
 */
import type { PresenceStore } from '../presence/store.ts';
import { ApiError } from './errors.ts';
import type { ApiRoutes } from './index.ts';
import { API_PATHS } from './paths.ts';
import { checkTopic } from './validate.ts';

export function presenceRoutes(store: PresenceStore | undefined): ApiRoutes {
  return (app, api) => {
    app.get(
      API_PATHS.presence,
      api.handle(async (c) => {
        const topic = checkTopic(c.req.query('topic'));
        if (!store) throw new ApiError('ERR_UNSUPPORTED', 'this server keeps no presence');
        const clients = await store.members(topic);
        c.header('cache-control', 'no-store');
        return c.json({ topic, count: clients.length, clients });
      }),
    );
  };
}
