/**
 * How Debian's Chromium is launched everywhere in this project (Playwright projects, the head-of-line lab):
 * no sandbox as root, no GPU, no background traffic that would show up in network measurements. Never
 * `--disable-quic` here: tests that mean to block QUIC do it in the network (see shared/DESIGN.md).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
