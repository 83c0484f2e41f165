/**
 * Conformance, over every adapter in ./adapters.ts: text a server sends as UTF-8 pieces (`Utf8Text`, what the
 * protocol delivers a large JSON message as) arrives as one text message, as a string would.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEvent } from '../../src/transport.ts';
import { Utf8Text } from '../../src/utf8-text.ts';
import { adapters } from './adapters.ts';
import { conformanceHarness, onChannel, until } from './harness.ts';

interface Sample {
  readonly pieces: string[];
  readonly channel?: string;
}

for (const adapter of adapters) {
  describe.skipIf(!adapter.available)(`conformance: ${adapter.name}`, () => {
    const { test, connect, startCapturing } = conformanceHarness(adapter);

    /** Sends each sample from the server as a Utf8Text; asserts the client got each one's text, per channel. */
    async function expectDelivered(samples: readonly Sample[]): Promise<void> {
      const { server, connections, nextConnection } = await startCapturing();
      const transport = await connect(server);
      await nextConnection();
      const encoder = new TextEncoder();
      const received: MessageEvent[] = [];
      transport.on('message', (m) => received.push(m));
      for (const { pieces, channel } of samples) {
        const text = new Utf8Text(pieces.map((p) => encoder.encode(p)));
        await connections[0]!.send(text, channel ? { channel } : undefined);
      }
      await until(() => received.length === samples.length, 'UTF-8 text messages');
      // Order holds within a channel (on a rung with independent streams, not across channels).
      for (const channel of new Set(samples.map((s) => s.channel ?? ''))) {
        const sent = samples.filter((s) => (s.channel ?? '') === channel).map((s) => s.pieces.join(''));
        expect(onChannel(received, channel)).toEqual(sent);
      }
    }

    it('delivers text the server has as UTF-8 pieces (Utf8Text) as one text message, on any channel', async () => {
      await expectDelivered([
        { pieces: ['small ', 'pieces ☃ 😀', '\n\r\u0000'] },
        { pieces: ['{"on":', '"a channel"}'], channel: 'docs' },
        { pieces: ['one piece'] },
        { pieces: [] },
      ]);
    });

    test(
      'large-utf8-text',
      "delivers a large Utf8Text (a rung's large-message path) as one text message",
      async () => {
        // Pieces end on character boundaries, as Utf8Text asks; over the WebSocket rung's 16 KiB fragment size.
        const pieces = ['{"type":"msg","data":"', `héllo ☃ 😀\n\u0000 ${'x'.repeat(20_000)} 日本語`, '"}'];
        await expectDelivered([{ pieces }, { pieces, channel: 'docs' }]);
      },
    );
  });
}
