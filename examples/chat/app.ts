// The chat page: one switchyard client (best rung the network allows, falls back and comes back by itself),
// the room's messages, and a status line showing the rung in use. Bundled by build.mjs for the browser.
import { createClient } from 'switchyard/client';
import { probe } from 'switchyard/playwright/probe';
import { browserTransports } from 'switchyard/transports/browser';

type Chat = { text: string };

const client = createClient<Chat>({
  url: location.origin,
  transports: browserTransports,
  token: async () => {
    const response = await fetch('/rt/token', { method: 'POST' });
    return ((await response.json()) as { token: string }).token;
  },
});
// Test builds load the page with ?probe: the Playwright fixtures read what the probe records.
if (new URLSearchParams(location.search).has('probe')) probe(client);

const status = document.getElementById('status')!;
const log = document.getElementById('log')!;
const form = document.getElementById('send') as HTMLFormElement;
const input = document.getElementById('text') as HTMLInputElement;

const showStatus = () => {
  status.dataset.state = client.state;
  status.dataset.rung = client.rung ?? '';
  status.textContent = client.rung ? `${client.state} over ${client.rung}` : `${client.state}…`;
};
client.on('state', showStatus);
// When the chat first became usable, for the browser's own timeline (and bench/connect-time.ts).
const offConnected = client.on('state', (state) => {
  if (state !== 'connected') return;
  performance.mark('switchyard:connected');
  offConnected();
});
client.on('rung', showStatus);

client.subscribe('chat');
client.subscribe('announcements');
client.on('message', ({ topic, data }) => {
  if (topic !== 'chat') return;
  const item = document.createElement('li');
  item.textContent = data.text;
  log.append(item);
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  // Queued while offline, sent (once) when back: publish resolves when the server acknowledged it.
  void client.publish('chat', { text: input.value });
  input.value = '';
});
