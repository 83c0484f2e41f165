/**
 * One load connection over WebSocket: handshake, the system's setup exchange, then every frame sorted into
 * replies (counted, handed to `onReplies` once per chunk so a window refill is one write), background frames
 * (answered where the protocol asks) and unexpected frames (counted: the measurement fails on any).
 */
import type { Socket } from 'node:net';
import { type Frame, type Role, type WsDriver, type WsSystem, wsDriver } from './ws-systems.ts';
import { clientFrame, FrameParser, Opcode, wsHandshake } from './ws-wire.ts';

export class WsConn {
  readonly socket: Socket;
  readonly driver: WsDriver;
  unexpected = 0;
  readonly errors: string[] = [];
  /** Set once setup is complete; replies before that are setup frames. */
  onReplies: (count: number) => void = () => {};
  #replies = 0;
  #setupDone: (() => void) | undefined;
  #setupStep = 0;
  #closed = false;

  private constructor(socket: Socket, driver: WsDriver) {
    this.socket = socket;
    this.driver = driver;
  }

  static async open(
    system: WsSystem,
    host: string,
    port: number,
    options: { role: Role; size: number; group: number },
  ): Promise<WsConn> {
    const driver = wsDriver({ system, ...options });
    const { socket, rest } = await wsHandshake(host, port, driver.path, driver.protocol);
    const conn = new WsConn(socket, driver);
    const parser = new FrameParser((opcode, head, payload) => conn.#onFrame({ opcode, head, payload }));
    const ready = new Promise<void>((resolve, reject) => {
      conn.#setupDone = resolve;
      socket.once('close', () => {
        if (conn.#setupDone) reject(new Error(`${system}: closed during setup`));
      });
    });
    socket.on('data', (chunk: Buffer) => {
      conn.#replies = 0;
      parser.push(chunk);
      if (conn.#replies > 0) conn.onReplies(conn.#replies);
    });
    socket.on('error', (error) => conn.#error(`socket error: ${error.message}`));
    socket.on('close', () => {
      if (!conn.#closed) conn.#error('closed by the server');
      conn.#closed = true;
    });
    conn.#advanceSetup();
    if (rest.length > 0) socket.emit('data', rest);
    await ready;
    return conn;
  }

  #advanceSetup(): void {
    const step = this.driver.setup[this.#setupStep];
    if (!step) {
      const done = this.#setupDone;
      this.#setupDone = undefined;
      done?.();
      return;
    }
    if (step.send) this.socket.write(step.send);
  }

  #onFrame(frame: Frame): void {
    if (this.#setupDone) {
      const step = this.driver.setup[this.#setupStep];
      if (step?.until(frame)) {
        this.#setupStep++;
        this.#advanceSetup();
      } else if (this.#handleControl(frame)) {
        // the WebSocket layer's own traffic
      } else if (this.driver.isBackground(frame)) this.#answer(frame);
      else this.#unexpected(frame);
      return;
    }
    if (this.driver.isReply(frame)) {
      this.#replies++;
      return;
    }
    if (this.#handleControl(frame)) return;
    if (this.driver.isBackground(frame)) {
      this.#answer(frame);
      return;
    }
    this.#unexpected(frame);
  }

  #answer(frame: Frame): void {
    const answer = this.driver.answer?.(frame);
    if (answer && !this.#closed) this.socket.write(answer);
  }

  /** Pings, pongs and close frames: the WebSocket layer's own traffic. */
  #handleControl(frame: Frame): boolean {
    switch (frame.opcode) {
      case Opcode.ping:
        if (!this.#closed) this.socket.write(clientFrame(Opcode.pong, frame.payload ?? Buffer.alloc(0)));
        return true;
      case Opcode.pong:
        return true;
      case Opcode.close: {
        const code = frame.payload && frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        const reason = frame.payload?.subarray(2).toString() ?? '';
        if (!this.#closed) this.#error(`server closed with ${code} ${reason}`);
        this.#closed = true;
        this.socket.destroy();
        return true;
      }
      default:
        return false;
    }
  }

  #unexpected(frame: Frame): void {
    this.unexpected++;
    if (this.errors.length < 3) this.errors.push(`unexpected frame: ${frame.head.toString('latin1')}`);
  }

  #error(message: string): void {
    if (this.errors.length < 3) this.errors.push(message);
  }

  send(data: Buffer | readonly Buffer[]): void {
    if (this.#closed) return;
    if (!Array.isArray(data)) {
      if ((data as Buffer).length > 0) this.socket.write(data as Buffer);
      return;
    }
    // Pieces of requests (a fresh head, a shared payload): one writev, as one buffer would be.
    this.socket.cork();
    for (const piece of data) this.socket.write(piece);
    this.socket.uncork();
  }

  /** A clean close (1000), then the TCP connection is cut if the server has not closed it within a bound. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), 500);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end(clientFrame(Opcode.close, code));
    });
  }
}
