/**
 * A load worker: one of several client processes the orchestrator forks, so that the clients together can
 * outrun the one server process under test. It opens its share of connections, keeps a window of requests
 * in flight (refilled with one write per received chunk), and reports counts when asked; the orchestrator
 * turns counts from all workers into rates over the same window.
 */
import type { FromWorker, LoadJob, SseSystem, ToWorker } from './messages.ts';
import { SseConn } from './sse-conn.ts';
import { WsConn } from './ws-conn.ts';
import type { WsSystem } from './ws-systems.ts';

const SSE_SYSTEMS = new Set<string>([
  'sse-push',
  'sse-raw-push',
  'sse-echo',
  'sse-raw-echo',
  'sse-idle',
  'sse-hello-idle',
  'sse-raw-idle',
]);
const isSse = (system: string): system is SseSystem => SSE_SYSTEMS.has(system);

/** Connections opened at once (a burst of thousands would overflow the server's accept backlog). */
const CONNECT_CONCURRENCY = 64;

function send(message: FromWorker): void {
  process.send?.(message);
}

interface Load {
  start(): void;
  stop(): void;
  close(): Promise<void>;
  readonly conns: readonly (WsConn | SseConn)[];
}

let received = 0;
let running = false;
let load: Load | undefined;

async function openMany<T>(count: number, open: (i: number) => Promise<T>, progress = false): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await open(i);
      done++;
      if (progress && done % 500 === 0) send({ type: 'progress', conns: done });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, lane));
  return out;
}

async function openEcho(job: LoadJob, idle: boolean): Promise<Load> {
  if (isSse(job.system)) {
    const system = job.system;
    const conns = await openMany(
      job.conns,
      (i) => SseConn.open(system, job.host, job.port, job.size, `${job.tag}-${i}`),
      idle,
    );
    for (const c of conns) {
      c.onReplies = (n) => {
        received += n;
      };
    }
    return {
      conns,
      start: () => {
        for (const c of conns) c.start();
      },
      stop: () => {
        for (const c of conns) c.stopSending();
      },
      close: async () => {
        await Promise.all(conns.map((c) => c.close()));
      },
    };
  }
  const system = job.system as WsSystem;
  const role = idle ? 'idle' : 'echo';
  const conns = await openMany(
    job.conns,
    () => WsConn.open(system, job.host, job.port, { role, size: job.size, group: 0 }),
    idle,
  );
  for (const c of conns) {
    c.onReplies = (n) => {
      received += n;
      if (running) c.send(c.driver.requests(n));
    };
  }
  return {
    conns,
    start: () => {
      for (const c of conns) c.send(c.driver.requests(job.inFlight));
    },
    stop: () => {},
    close: async () => {
      await Promise.all(conns.map((c) => c.close()));
    },
  };
}

/**
 * Fan-out: per group, one publisher and `conns` subscribers. The publisher keeps at most `inFlight` messages
 * outstanding per subscriber on average, so the server's per-connection queues stay bounded.
 */
async function openFan(job: LoadJob): Promise<Load> {
  const system = job.system as WsSystem;
  const groups = await Promise.all(
    (job.groups ?? [0]).map(async (group) => {
      const subs = await openMany(job.conns, () =>
        WsConn.open(system, job.host, job.port, { role: 'sub', size: job.size, group }),
      );
      const pub = await WsConn.open(system, job.host, job.port, { role: 'pub', size: job.size, group });
      let sent = 0;
      let delivered = 0;
      const pump = () => {
        if (!running) return;
        const room = Math.floor(job.inFlight - (sent - delivered / subs.length));
        if (room < 1) return;
        pub.send(pub.driver.requests(room));
        sent += room;
      };
      for (const sub of subs) {
        sub.onReplies = (n) => {
          received += n;
          delivered += n;
          pump();
        };
      }
      return { subs, pub, pump };
    }),
  );
  return {
    conns: groups.flatMap((g) => [...g.subs, g.pub]),
    start: () => {
      for (const g of groups) g.pump();
    },
    stop: () => {},
    close: async () => {
      await Promise.all(groups.flatMap((g) => [...g.subs, g.pub]).map((c) => c.close()));
    },
  };
}

/** Round trips one at a time on one connection; returns each in microseconds (after a warm-up). */
async function latency(job: LoadJob, samples: number): Promise<number[]> {
  const warmup = Math.min(200, samples);
  const micros: number[] = [];
  if (isSse(job.system)) {
    const conn = await SseConn.open(job.system, job.host, job.port, job.size, `${job.tag}-lat`);
    await new Promise<void>((resolve) => {
      let seen = 0;
      conn.onRoundTrip = (us) => {
        if (++seen > warmup) micros.push(us);
        if (seen >= samples + warmup) {
          conn.stopSending();
          resolve();
        }
      };
      conn.start();
    });
    await conn.close();
    return micros;
  }
  const conn = await WsConn.open(job.system as WsSystem, job.host, job.port, {
    role: 'echo',
    size: job.size,
    group: 0,
  });
  await new Promise<void>((resolve) => {
    let seen = 0;
    let t0 = process.hrtime.bigint();
    conn.onReplies = () => {
      const now = process.hrtime.bigint();
      if (++seen > warmup) micros.push(Number(now - t0) / 1000);
      if (seen >= samples + warmup) return resolve();
      t0 = process.hrtime.bigint();
      conn.send(conn.driver.requests(1));
    };
    conn.send(conn.driver.requests(1));
  });
  await conn.close();
  return micros;
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'open': {
      received = 0;
      running = false;
      const { job } = message;
      const idle = job.system.endsWith('-idle');
      load = job.groups ? await openFan(job) : await openEcho(job, idle);
      send({ type: 'opened', conns: load.conns.length });
      return;
    }
    case 'go':
      running = true;
      load?.start();
      return;
    case 'mark':
      send({ type: 'count', received });
      return;
    case 'stop': {
      running = false;
      load?.stop();
      const current = load;
      load = undefined;
      await current?.close();
      const conns = current?.conns ?? [];
      send({
        type: 'stopped',
        unexpected: conns.reduce((n, c) => n + c.unexpected, 0),
        errors: [...new Set(conns.flatMap((c) => c.errors))].slice(0, 5),
      });
      return;
    }
    case 'latency':
      send({ type: 'latency', micros: await latency(message.job, message.samples) });
      return;
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((error: Error) => send({ type: 'error', message: error.message }));
});
process.on('disconnect', () => process.exit(0));
