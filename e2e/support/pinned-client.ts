/**
 * Runs in the page (bundled by the specs that import it): a client of the Deno demo pinned to one rung, with a
 * fresh token per attempt (the demo requires them), no remembered rung and no climbing, so that a test measures the
 * rung it names.
 */
import { createClient } from '../../src/client/index.ts';
import type { ClientOptions } from '../../src/client/types.ts';
import type { TransportKind } from '../../src/transport.ts';
import { browserTransports } from '../../transports/index.browser.ts';

export async function pinnedClient(
  kind: TransportKind,
  options: Partial<ClientOptions> = {},
): Promise<ReturnType<typeof createClient>> {
  const negotiate = (await (await fetch('/rt/negotiate')).json()) as { tokenUrl: string };
  // URLs in negotiate are relative to it.
  const tokenUrl = new URL(negotiate.tokenUrl, new URL('/rt/negotiate', location.href)).href;
  return createClient({
    url: location.origin,
    transports: browserTransports,
    order: [kind],
    rememberRung: false,
    climb: false,
    ...options,
    token: async () =>
      ((await (await fetch(tokenUrl, { method: 'POST' })).json()) as { token: string }).token,
  });
}
