/**
 * What each network fixture needs from the machine, checked before it runs. A fixture that cannot do its job
 * must fail the test with the reason and the fix, never pass silently: a "QUIC blocked" test that ran with
 * QUIC open would prove nothing. CI images for these tests run as root with nftables and nginx installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Requirement = 'root' | 'nft' | 'nginx' | 'nginx-stream';

export class KitRequirementError extends Error {
  override readonly name = 'KitRequirementError';
}

/** nginx binary: NGINX_PATH when set (and only it), else the first `nginx` on PATH or in the sbin directories. */
export function nginxBinary(): string | null {
  const explicit = process.env.NGINX_PATH;
  if (explicit) return existsSync(explicit) ? explicit : null;
  const candidates = [
    ...(process.env.PATH ?? '').split(':').map((dir) => `${dir}/nginx`),
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
  ];
  return candidates.find((path) => existsSync(path)) ?? null;
}

/** The dynamic stream module (Debian: libnginx-mod-stream), or '' when nginx has it built in; null if absent. */
export function nginxStreamModule(): string | null {
  const bin = nginxBinary();
  if (!bin) return null;
  let configure = '';
  try {
    // `nginx -V` prints its configure arguments on stderr.
    configure = execFileSync(bin, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    configure = String((error as { stderr?: string }).stderr ?? '');
  }
  if (/--with-stream(?!=dynamic|_)/.test(configure)) return '';
  const dir = /--modules-path=(\S+)/.exec(configure)?.[1] ?? '/usr/lib/nginx/modules';
  const module = `${dir}/ngx_stream_module.so`;
  return existsSync(module) ? module : null;
}

function reason(requirement: Requirement): string | null {
  switch (requirement) {
    case 'root':
      return process.getuid?.() === 0
        ? null
        : `root (nftables rules need it; running as uid ${process.getuid?.()})`;
    case 'nft':
      try {
        execFileSync('nft', ['list', 'tables'], { stdio: 'pipe' });
        return null;
      } catch (error) {
        const stderr = String((error as { stderr?: Buffer | string }).stderr ?? '').trim();
        const why = stderr.split('\n')[0] || (error as Error).message.split('\n')[0];
        return `nftables (\`nft list tables\` failed: ${why}; Debian: apt-get install nftables)`;
      }
    case 'nginx':
      if (nginxBinary()) return null;
      return process.env.NGINX_PATH
        ? `nginx at NGINX_PATH=${process.env.NGINX_PATH} (no such file)`
        : 'nginx on PATH or NGINX_PATH (Debian: apt-get install nginx-light)';
    case 'nginx-stream':
      return nginxStreamModule() !== null
        ? null
        : 'the nginx stream module for UDP forwarding (Debian: apt-get install libnginx-mod-stream)';
  }
}

/** Reasons the machine lacks `needs` (empty: all there). */
export function missingRequirements(needs: readonly Requirement[]): string[] {
  return needs.map(reason).filter((r): r is string => r !== null);
}

/** Throws a KitRequirementError naming the fixture, what is missing and how to get it. */
export function requireFor(feature: string, needs: readonly Requirement[]): void {
  const missing = missingRequirements(needs);
  if (missing.length > 0) {
    throw new KitRequirementError(
      `switchyard/playwright: ${feature} needs ${missing.join('; and ')}. It refuses to run without them rather than pass without testing anything.`,
    );
  }
}
