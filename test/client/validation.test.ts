/**
 * Typed messages: any Standard Schema (zod, valibot) validates incoming data; a message that fails is an
 * `error` event with the issues, never an exception, and the messages after it keep flowing.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type Client, createClient, ValidationError } from '../../src/client/index.ts';
import type { SwitchyardError } from '../../src/errors.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from './harness.ts';

let server: TestServer | undefined;
const clients: Client<unknown>[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await server?.close();
  server = undefined;
});

const zodSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('chat'), text: z.string() }),
  z.object({ type: z.literal('presence'), user: z.string(), online: z.boolean() }),
]);

const valibotSchema = v.variant('type', [
  v.object({ type: v.literal('chat'), text: v.string() }),
  v.object({ type: v.literal('presence'), user: v.string(), online: v.boolean() }),
]);

for (const [name, schema] of [
  ['zod', zodSchema],
  ['valibot', valibotSchema],
] as const) {
  describe(`typed messages with ${name}`, () => {
    it('delivers valid messages typed, reports invalid ones as error events, keeps going', async () => {
      server = await startTestServer();
      const c = createClient({
        url: server.url,
        transports: nodeTransports,
        rememberRung: false,
        messages: schema,
      });
      clients.push(c as Client<unknown>);
      const chats: string[] = [];
      const presence: boolean[] = [];
      c.handle('chat', (data) => {
        expectTypeOf(data.text).toEqualTypeOf<string>();
        chats.push(data.text);
      });
      c.handle('presence', (data) => presence.push(data.online));
      const errors: SwitchyardError[] = [];
      c.on('error', (e) => errors.push(e));
      const sub = c.subscribe('room');
      await c.connect();
      await until(() => sub.lastSeq !== undefined, 'subscribed');
      await server.hub.publish('room', { type: 'chat', text: 'hello' });
      await server.hub.publish('room', { type: 'chat', text: 42 });
      await server.hub.publish('room', 'not even an object');
      await server.hub.publish('room', { type: 'presence', user: 'ann', online: true });
      await until(() => presence.length === 1, 'last message');
      expect(chats).toEqual(['hello']);
      expect(errors).toHaveLength(2);
      const first = errors[0];
      expect(first).toBeInstanceOf(ValidationError);
      expect(first?.code).toBe('ERR_VALIDATION');
      expect(first).toMatchObject({ topic: 'room', seq: 2 });
      expect((first as ValidationError).issues.length).toBeGreaterThan(0);
      expect(first?.message).toMatch(/room#2 failed validation: text/);
      expect(c.state).toBe('connected');
    });
  });
}

describe('a throwing message handler', () => {
  it('does not break delivery to the other handlers or later messages', async () => {
    server = await startTestServer();
    const c = createClient({ url: server.url, transports: nodeTransports, rememberRung: false });
    clients.push(c);
    // The emitter reports a listener's exception asynchronously (like EventTarget), outside the message loop.
    const thrown: unknown[] = [];
    const report = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', report);
    const got: unknown[] = [];
    c.on('message', () => {
      throw new Error('app bug');
    });
    c.on('message', (m) => got.push(m.data));
    const sub = c.subscribe('t');
    await c.connect();
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    await server.hub.publish('t', 1);
    await server.hub.publish('t', 2);
    await until(() => got.length === 2 && thrown.length === 2, 'both messages');
    process.off('uncaughtException', report);
    expect(thrown.map((e) => (e as Error).message)).toEqual(['app bug', 'app bug']);
    expect(c.state).toBe('connected');
  });
});
