import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

/**
 * Fault injectors on loopback for the tests of a server backend (issue 17 case 6: server backends never hang and
 * always name themselves): a refused port, a socket that never answers, a server that answers only its root. They are
 * not stand-ins for the server: a backend's behaviour is tested against the real one. `close()` stops them all.
 */
export class FaultServers {
  private readonly closers: Array<() => Promise<void>> = [];

  /** Accepts TCP connections and never writes a byte. */
  async silent(): Promise<string> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.closers.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A port that was bound and released: connecting is refused. */
  async refused(): Promise<string> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}`;
  }

  /** Answers GET / (so the probe passes) and never answers anything else: a server that hangs mid-run. */
  async hangsAfterProbe(): Promise<string> {
    const server: HttpServer = createHttpServer((req, res) => {
      if (req.url === '/') res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.closers.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0)) await close();
  }
}

/** The error a promise is expected to fail with, and how long failing took. */
export async function timedFailure(p: Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const started = Date.now();
  const error = await p.then(
    () => new Error('expected a failure'),
    (e: Error) => e,
  );
  return { error, ms: Date.now() - started };
}
