/**
 * The demo's presence strip, added to each rung's panel: the panel's client is present on its rung's topic
 * (`presence.<rung>`) and follows its presence, so the strip shows how many clients are on that rung right now
 * and who, kept current by `join`/`leave` after one `client.presence()` read. Open the page in a second tab and
 * watch every panel count it. Part of the demo page bundle (./page.ts); `data-presence` carries the count for
 * e2e tests.
 */
import type { Client, PresenceMember } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';

/** One name per page, the same in every panel: the tab is what a person recognises. */
const label = `tab ${Math.random().toString(36).slice(2, 6)}`;

export function attachPresence(client: Client<unknown>, root: HTMLElement, kind: TransportKind): void {
  const strip = document.createElement('div');
  strip.className = 'presence';
  strip.dataset.presence = '0';
  const count = document.createElement('div');
  const list = document.createElement('ul');
  strip.append(count, list);
  root.append(strip);

  const topic = `presence.${kind}`;
  const members = new Map<string, PresenceMember>();
  const render = () => {
    strip.dataset.presence = String(members.size);
    count.textContent = `on this rung now: ${members.size} client${members.size === 1 ? '' : 's'}`;
    list.replaceChildren(
      ...[...members.values()].map((m) => {
        const item = document.createElement('li');
        const name = typeof m.info?.label === 'string' ? m.info.label : m.client.slice(0, 8);
        item.textContent = m.user ? `${name} (${m.user})` : name;
        return item;
      }),
    );
  };
  client.subscribe(topic, { presence: true, info: { label } });
  client.on('presence', (event) => {
    if (event.topic !== topic) return;
    if (event.action === 'join') members.set(event.client.client, event.client);
    else members.delete(event.client.client);
    render();
  });
  // Every (re)connection: the full list once, then the news keeps it current.
  client.on('state', (state) => {
    if (state !== 'connected') return;
    client.presence(topic).then(
      (now) => {
        members.clear();
        for (const m of now) members.set(m.client, m);
        render();
      },
      () => undefined,
    );
  });
  render();
}
