import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a {@link ScriptedServer} saw, as it arrived (the raw request target, not decoded). */
export interface LoggedRequest {
  readonly method: string;
  /** The request target exactly as sent, e.g. `/m/unet/model.onnx`. */
  readonly url: string;
  /** The `Authorization` header, when the request carried one. */
  readonly authorization: string | undefined;
}

/** A handler: answers one request (the server has logged it already). */
export type ScriptedHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A test HTTP server on 127.0.0.1 whose answers a test scripts, e.g. to serve a broken download. */
export interface ScriptedServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly origin: string;
  /** Every request so far. */
  readonly requests: LoggedRequest[];
  /** Replaces the handler (e.g. a file that was missing appears). */
  handle(handler: ScriptedHandler): void;
  close(): Promise<void>;
}

/**
 * Starts a real node:http server on 127.0.0.1 (a fresh port) that logs every request — method, raw
 * target, `Authorization` header — and answers with the current handler (404 until one is set).
 */
export async function startScriptedServer(handler?: ScriptedHandler): Promise<ScriptedServer> {
  const requests: LoggedRequest[] = [];
  let current: ScriptedHandler =
    handler ??
    ((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
  const server: Server = createServer((req, res) => {
    requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    Promise.resolve(current(req, res)).catch((error: unknown) => {
      res.destroy(error as Error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    handle(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
