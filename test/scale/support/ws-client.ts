/**
 * The switchyard client as the scale tests use it: WebSocket only (a TCP balancer can steer it), no rung memory,
 * a quick reconnect; disposed by the test's cleanup.
 */
import { type Client, createClient } from '../../../src/client/index.ts';
import { nodeTransports } from '../../../transports/index.node.ts';

export function wsClient(url: string, defer: (cleanup: () => unknown) => void): Client<{ n: number }> {
  const c = createClient<{ n: number }>({
    url,
    transports: nodeTransports,
    order: ['websocket'],
    rememberRung: false,
    backoff: { baseMs: 50, maxMs: 200 },
  });
  defer(() => c.dispose());
  return c;
}
