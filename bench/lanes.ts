/**
 * What a lane (one QUIC stream per topic) costs on the server: the Deno binding's RSS with clients that use
 * 0, 16 and 64 lanes each over WebTransport/HTTP3, and how long publishing once to each of a client's topics
 * takes when every topic opens a fresh stream. Run: node --import tsx bench/lanes.ts [clients]
 * The numbers behind the default lane count in docs/transports/webtransport.md.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DENO_RUN, denoBinary, launchDenoServer } from '../server/deno/launch.ts';

const CLIENTS = Number(process.argv[2] ?? 50);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(lanes: number) {
  const server = await launchDenoServer({ port: 0 });
  try {
    const pid = server.process.pid as number;
    await sleep(1000);
    const before = rssKiB(pid);
    const client = spawn(
      denoBinary() as string,
      [...DENO_RUN, 'bench/lanes-client.deno.ts', server.url, String(CLIENTS), String(lanes)],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: client.stdout }).once('line', resolve);
      client.once('exit', (code) => reject(new Error(`lanes client exited with ${code}`)));
    });
    await sleep(1500);
    const after = rssKiB(pid);
    client.stdin.end();
    await new Promise((resolve) => client.once('exit', resolve));
    const report = JSON.parse(line) as { topicsPerClient: number; publishAllTopicsMsP50: number };
    return {
      lanes,
      clients: CLIENTS,
      topicsPerClient: report.topicsPerClient,
      serverRssKiBPerClient: Math.round((after - before) / CLIENTS),
      publishAllTopicsMsP50: report.publishAllTopicsMsP50,
    };
  } finally {
    await server.close();
  }
}

const rows = [];
for (const lanes of [0, 16, 64]) {
  console.error(`lanes=${lanes}: ${CLIENTS} clients...`);
  rows.push(await measure(lanes));
}
console.log(
  '| lanes per client | topics per client | server RSS per client | publish once to every topic (p50) |',
);
console.log('|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.lanes} | ${r.topicsPerClient} | ${r.serverRssKiBPerClient} KiB | ${r.publishAllTopicsMsP50} ms |`,
  );
}
const base = rows[0]?.serverRssKiBPerClient ?? 0;
for (const r of rows.slice(1)) {
  console.log(
    `lanes=${r.lanes}: ~${((r.serverRssKiBPerClient - base) / r.lanes).toFixed(1)} KiB of server memory per extra stream`,
  );
}
