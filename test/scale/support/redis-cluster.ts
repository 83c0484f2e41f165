/**
 * A real Redis Cluster for one test: N masters (`redis-server --cluster-enabled yes`, no replicas, nothing kept
 * on disk but the cluster's own nodes.conf) on free ports in a temp dir, joined by `redis-cli --cluster create`,
 * torn down after. Tests that stop a shard or move slots need their own cluster: the machine's shared Redis on
 * 6379 is not one and must not be disturbed. `cluster-require-full-coverage no`, as docs/scale-out.md advises,
 * so the other shards keep answering while one is down.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../../e2e/kit/nginx.ts';
import { REDIS_SERVER_BIN } from './redis.ts';

const run = promisify(execFile);
export const REDIS_CLI_BIN = process.env.REDIS_CLI_PATH ?? 'redis-cli';

export interface ClusterMaster {
  readonly port: number;
  readonly url: string;
  /** The cluster's id for this master (stable across restarts: nodes.conf keeps it). */
  readonly id: string;
}

export interface RedisCluster {
  readonly masters: readonly ClusterMaster[];
  /** Every master as a seed, comma-separated: what REDIS_URL takes. */
  readonly url: string;
  /** The master that serves `key`'s slot now. */
  masterOf(key: string): Promise<ClusterMaster>;
  /** The slot ranges master `index` serves now, lowest first. */
  slotsOf(index: number): Promise<[number, number][]>;
  /** SIGKILL of one master: its shard disappears with its data (nothing is persisted). */
  kill(index: number): Promise<void>;
  /** Starts a killed master again on its port: it rejoins with its slots, empty. */
  restart(index: number): Promise<void>;
  /** `redis-cli --cluster reshard`: moves `slots` slots (and their keys) from one master to another. */
  reshard(from: number, to: number, slots: number): Promise<void>;
  /** Resolves once every running master reports `cluster_state:ok` and agrees on the slot map. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI_BIN, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** `count` masters and `replicas` per master (default 0; with replicas, a killed master fails over). */
export async function startRedisCluster(count = 3, replicas = 0): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cluster-'));
  const ports: { port: number; bus: number }[] = [];
  const processes = count * (1 + replicas);
  for (let i = 0; i < processes; i++) {
    ports.push({ port: await freePort('127.0.0.1'), bus: await freePort('127.0.0.1') });
  }
  const children: (ChildProcess | undefined)[] = [];
  const launch = async (i: number) => {
    const { port, bus } = ports[i] as { port: number; bus: number };
    const home = join(dir, String(port));
    await mkdir(home, { recursive: true });
    const options = {
      port: String(port),
      bind: '127.0.0.1',
      dir: home,
      'cluster-enabled': 'yes',
      'cluster-port': String(bus),
      'cluster-config-file': 'nodes.conf',
      'cluster-node-timeout': '1500',
      'cluster-require-full-coverage': 'no',
      save: '',
      appendonly: 'no',
      'repl-diskless-sync-delay': '0',
    };
    const args = Object.entries(options).flatMap(([name, value]) => [`--${name}`, value]);
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: 'ignore' });
    child.on('error', () => undefined);
    children[i] = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`cluster redis-server on ${port} did not start (${REDIS_SERVER_BIN}): ${error}`);
        }
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  };
  /** `i`: a master's index in `masters` (as created), mapped to its process. */
  const processOf = (i: number) => ports.findIndex(({ port }) => port === masters[i]?.port);
  const kill = async (i: number) => {
    const child = children[processOf(i)];
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const running = () => ports.filter((_, i) => children[i]?.exitCode === null && !children[i]?.signalCode);
  const info = async (port: number, ...command: string[]) => cli('-p', String(port), ...command);
  const waitOk = async (timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        running().map(async ({ port }) => {
          const text = await info(port, 'cluster', 'info').catch(() => '');
          const slots = await info(port, 'cluster', 'slots').catch(() => '');
          return { ok: /cluster_state:ok/.test(text) && /cluster_slots_ok:16384/.test(text), slots };
        }),
      );
      const agreed = states.every((s) => s.ok && s.slots === states[0]?.slots);
      if (agreed && states.length > 0) return;
      if (Date.now() > deadline) throw new Error(`redis cluster not ok within ${timeoutMs} ms`);
      await sleep(100);
    }
  };
  const stop = async () => {
    for (const child of children) {
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  const masters: ClusterMaster[] = [];
  const nodes: ClusterMaster[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      // A port found free can be taken by another test's socket before redis-server binds it (tests run in
      // parallel, each on port 0): a server that exits at start gets fresh ports, twice at most.
      for (let attempt = 0; ; attempt++) {
        try {
          await launch(i);
          break;
        } catch (error) {
          if (attempt >= 2 || children[i]?.exitCode === null) throw error;
          ports[i] = { port: await freePort('127.0.0.1'), bus: await freePort('127.0.0.1') };
        }
      }
    }
    await cli(
      '--cluster',
      'create',
      ...ports.map(({ port }) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    );
    await waitOk();
    for (const { port } of ports) {
      const node = {
        port,
        url: `redis://127.0.0.1:${port}`,
        id: (await info(port, 'cluster', 'myid')).trim(),
      };
      nodes.push(node);
      if ((await info(port, 'role')).startsWith('master')) masters.push(node);
    }
    // A replica that has not synced yet would never be promoted: wait until each one has.
    const deadline = Date.now() + 20_000;
    for (const node of nodes.filter((n) => !masters.includes(n))) {
      while (!/master_link_status:up/.test(await info(node.port, 'info', 'replication'))) {
        if (Date.now() > deadline) throw new Error(`replica ${node.port} did not sync`);
        await sleep(100);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const ranges = async () => {
    const { port } = running()[0] ?? { port: 0 };
    const reply = await info(port, '--json', 'cluster', 'slots').catch(() => '');
    return JSON.parse(reply || '[]') as [number, number, [string, number, string]][];
  };
  const byIndex = (i: number): ClusterMaster => {
    const master = masters[i];
    if (!master) throw new Error(`no master ${i}`);
    return master;
  };
  return {
    masters,
    url: masters.map((m) => m.url).join(','),
    async slotsOf(index) {
      const port = byIndex(index).port;
      return (await ranges())
        .filter(([, , [, owner]]) => owner === port)
        .map(([first, last]): [number, number] => [first, last])
        .sort((x, y) => x[0] - y[0]);
    },
    async masterOf(key) {
      const { port } = running()[0] ?? { port: 0 };
      const slot = Number((await info(port, 'cluster', 'keyslot', key)).trim());
      for (const [first, last, [, owner]] of await ranges()) {
        if (slot >= first && slot <= last) {
          const master = nodes.find((m) => m.port === owner);
          if (master) return master;
        }
      }
      throw new Error(`no master serves slot ${slot} (${key})`);
    },
    kill,
    async restart(i) {
      await launch(processOf(i));
    },
    async reshard(from, to, slots) {
      await cli(
        '--cluster',
        'reshard',
        `127.0.0.1:${byIndex(from).port}`,
        '--cluster-from',
        byIndex(from).id,
        '--cluster-to',
        byIndex(to).id,
        '--cluster-slots',
        String(slots),
        '--cluster-yes',
      );
    },
    waitOk,
    stop,
  };
}
