/**
 * Blocks UDP to one loopback port with an nftables rule on the input hook (a drop on output would hand the
 * sender EPERM, which QUIC stacks treat as an error rather than loss): how a network that blocks QUIC looks
 * to a browser. Only our own port on loopback is touched; the table is removed afterwards.
 */
import { execFileSync } from 'node:child_process';

export interface UdpBlock {
  remove(): void;
}

/** Null when nftables is not usable here (not root, no nft): callers skip visibly with the reason. */
export function nftUnavailableReason(): string | null {
  try {
    execFileSync('nft', ['list', 'tables'], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `nftables unavailable: ${(error as Error).message.split('\n')[0]}`;
  }
}

export function blockUdpPort(port: number): UdpBlock {
  const table = `switchyard_test_${port}_${process.pid}`;
  execFileSync('nft', ['add', 'table', 'inet', table]);
  execFileSync('nft', ['add', 'chain', 'inet', table, 'input', '{ type filter hook input priority 0 ; }']);
  execFileSync('nft', [
    'add',
    'rule',
    'inet',
    table,
    'input',
    'iif',
    'lo',
    'udp',
    'dport',
    String(port),
    'drop',
  ]);
  return {
    remove() {
      try {
        execFileSync('nft', ['delete', 'table', 'inet', table]);
      } catch {}
    },
  };
}
