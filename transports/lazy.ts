/**
 * A Transport whose implementation is loaded when it is opened: `load` is a dynamic import, which bundlers
 * turn into a chunk of its own, so an app pays for a rung's code only on a page whose server offers that
 * rung. The client's handshake budget covers the load. Until the real transport exists this one is
 * `connecting` with the capabilities given; from then on it forwards state, events, sends and close to it.
 * A load that fails ends it like a connection that could not be opened (`error`, then `close` 1006).
 */
import { CloseCode } from '../src/close-codes.ts';
import { ConnectionCore, normalizeClose } from '../src/connection-core.ts';
import { SwitchyardError } from '../src/errors.ts';
import type { Transport, TransportCapabilities, TransportEvents, TransportKind } from '../src/transport.ts';

const EVENTS: readonly (keyof TransportEvents)[] = ['open', 'message', 'close', 'error'];

export function lazyTransport(
  kind: TransportKind,
  capabilities: TransportCapabilities,
  load: () => Promise<Transport>,
): Transport {
  const core = new ConnectionCore();
  let inner: Transport | undefined;
  load().then(
    (transport) => {
      // Closed while loading: the real one is opened only to be closed at once.
      if (core.state === 'closed') return transport.close();
      inner = transport;
      for (const type of EVENTS) transport.on(type, (event) => core.events.emit(type, event as never));
    },
    (error: unknown) => {
      if (core.state === 'closed') return;
      const message = `${kind} could not be loaded: ${(error as Error)?.message ?? error}`;
      core.emitError(new SwitchyardError('ERR_TRANSPORT', message, { cause: error }));
      core.markClosed(CloseCode.Abnormal, message, false);
    },
  );
  return {
    kind,
    get capabilities() {
      return inner?.capabilities ?? capabilities;
    },
    get state() {
      return inner?.state ?? core.state;
    },
    get bufferedAmount() {
      return inner?.bufferedAmount ?? 0;
    },
    send(data, options) {
      if (inner) return inner.send(data, options);
      return Promise.reject(
        new SwitchyardError(
          core.state === 'closed' ? 'ERR_CLOSED' : 'ERR_NOT_OPEN',
          `cannot send: connection is ${core.state}`,
        ),
      );
    },
    close(code, reason) {
      if (inner) return inner.close(code, reason);
      normalizeClose(code, reason); // the same argument checks as every rung
      core.markClosed(CloseCode.Abnormal, 'closed before the session was ready', false);
    },
    on: (type, listener) => core.events.on(type, listener),
  };
}
