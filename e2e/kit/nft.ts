/**
 * Packet rules on this machine's input hook (nftables), each in a table of its own that `remove()` deletes.
 * Input, not output: a drop on output hands the sender EPERM, which QUIC and TCP stacks report as an error at
 * once, while a real network that blocks or loses packets says nothing. Rules match ports only, so they touch
 * the servers the test started (on port 0, hence unique) and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { requireFor } from './requirements.ts';

export interface PacketRule {
  readonly table: string;
  /** Deletes the rule's table; safe to call twice. */
  remove(): void;
}

let sequence = 0;

function install(feature: string, matches: readonly string[][]): PacketRule {
  requireFor(feature, ['root', 'nft']);
  const table = `switchyard_kit_${process.pid}_${++sequence}`;
  execFileSync('nft', ['add', 'table', 'inet', table]);
  try {
    execFileSync('nft', [
      'add',
      'chain',
      'inet',
      table,
      'input',
      '{ type filter hook input priority -10 ; }',
    ]);
    for (const match of matches)
      execFileSync('nft', ['add', 'rule', 'inet', table, 'input', ...match, 'drop']);
  } catch (error) {
    execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' });
    throw error;
  }
  let removed = false;
  return {
    table,
    remove() {
      if (removed) return;
      removed = true;
      try {
        execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'pipe' });
      } catch {
        // Already gone (deleted by hand or by a previous cleanup).
      }
    },
  };
}

/** A network that blocks QUIC: UDP datagrams to these ports vanish (no ICMP, no error). */
export function dropUdpTo(ports: readonly number[], feature = 'blocking QUIC'): PacketRule {
  return install(
    feature,
    ports.map((port) => ['udp', 'dport', String(port)]),
  );
}

/**
 * A silent network drop: every TCP segment and UDP datagram to or from these ports vanishes both ways, with
 * no FIN and no RST, like a NAT entry that expired or a cable pulled somewhere in between. Connections stay
 * "open" on both ends until a heartbeat or a timeout notices.
 */
export function dropAllOn(ports: readonly number[], feature = 'a silent network drop'): PacketRule {
  const matches: string[][] = [];
  for (const port of ports) {
    for (const protocol of ['tcp', 'udp']) {
      matches.push([protocol, 'dport', String(port)], [protocol, 'sport', String(port)]);
    }
  }
  return install(feature, matches);
}
