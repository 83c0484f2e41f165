// The server under Deno, from the installed package through an npm: specifier: every rung, WebTransport over
// HTTP/3 included; it also serves the browser bundle built from the same package. Prints one ready line.

import { serveDeno } from 'npm:switchyard/server/deno';
import { MemoryHub } from 'npm:switchyard/server/hub';
import { createProtocol } from 'npm:switchyard/server/protocol';
import { createSecurity } from 'npm:switchyard/server/security';

const bundle = await Deno.readTextFile(Deno.args[0]!);
const protocol = createProtocol({ hub: new MemoryHub() });
const server = await serveDeno({
  onConnection: protocol.onConnection,
  security: createSecurity(),
  configure: (app) => {
    app.app.get('/', (c) =>
      c.html('<!doctype html><meta charset="utf-8"><script type="module" src="/app.js"></script>'),
    );
    app.app.get('/app.js', (c) => c.body(bundle, 200, { 'content-type': 'text/javascript' }));
  },
});
console.log(JSON.stringify({ url: server.url, webTransportPort: server.webTransportPort }));
Deno.addSignalListener('SIGTERM', async () => {
  await server.close();
  protocol.close();
  Deno.exit(0);
});
