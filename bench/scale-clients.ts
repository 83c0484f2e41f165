/**
 * The subscriber side of the scale benchmarks, as its own process (so its CPU is not counted as the node's):
 * opens N raw `ws` connections speaking the switchyard protocol (hello, sub), then reports over IPC each time
 * every connection has received one more message. Also used to hold idle connections for memory measurements.
 *
 * argv: url topic count. IPC out: { ready }, { round: k } (every socket got k messages after ready).
 */
import { WebSocket } from 'ws';

const [url, topic, countText] = process.argv.slice(2) as [string, string, string];
const count = Number(countText);
const send = (message: object) => process.send?.(message);

let reached = 0;
let target = 1;
const counts = new Uint32Array(count);
let ready = 0;

function open(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/rt/ws`, 'switchyard.v1', {
      perMessageDeflate: false,
    });
    let welcomed = false;
    ws.on('open', () => {
      ws.send(`:${JSON.stringify({ type: 'hello', v: 1 })}`);
      ws.send(`:${JSON.stringify({ type: 'sub', topic })}`);
    });
    ws.on('message', (data) => {
      const text = String(data);
      if (!welcomed) {
        // welcome, then the subscription's reset: the connection is live.
        if (text.includes('"type":"reset"')) {
          welcomed = true;
          resolve();
        }
        return;
      }
      if (!text.includes('"msg"')) return;
      counts[index] = (counts[index] as number) + 1;
      if (counts[index] === target && ++reached === count) {
        send({ round: target });
        target++;
        reached = 0;
      }
    });
    ws.on('error', reject);
    ws.on('close', (code) => {
      if (!welcomed) reject(new Error(`closed ${code} before subscribing`));
    });
  });
}

// Open in waves so the server's accept queue and the handshakes do not time out.
for (let i = 0; i < count; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, k) => open(i + k)));
  ready = i + 500;
}
send({ ready: Math.min(ready, count) });
process.on('message', (message: { exit?: boolean }) => {
  if (message.exit) process.exit(0);
});
