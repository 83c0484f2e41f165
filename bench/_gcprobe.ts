// temporary probe (not committed): GC counts per system under a row's load
import { measureWindow } from './lib/measure.ts';
import { type ServerName, ServerProc, WorkerProc } from './lib/procs.ts';
import { buildRows, jobsFor, type SystemId } from './lib/rows.ts';
const [rowId, ...pairs] = process.argv.slice(2);
const workers = [new WorkerProc(), new WorkerProc()];
const row = buildRows(false, workers.length).find((r) => r.id === rowId)!;
for (const pair of pairs) {
  const [server, system] = pair.split(':') as [ServerName, SystemId];
  const s = await ServerProc.start(server, (process.env.PROBE_FLAGS ?? '').split(' ').filter(Boolean));
  console.error(`START ${pair} pid ${s.pid}`);
  const { sample } = await measureWindow(s, workers, jobsFor(row, system, workers.length, s.port, 'p'), { warmupMs: 500, windowMs: 3000 });
  console.error(`RESULT ${pair} rate ${sample.rate.toFixed(0)} us/msg ${sample.serverUsPerMsg.toFixed(1)}`);
  await s.stop();
}
for (const w of workers) w.stop();
process.exit(0);
