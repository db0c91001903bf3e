import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

/** One request the server saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/** A tiny static file server for tests: folders mounted at URL prefixes, every request logged. */
export interface StaticServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly origin: string;
  /** Every request so far. */
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.txt': 'text/plain',
};

/**
 * Serves `mounts` (URL prefix → folder) on 127.0.0.1 with the headers that make a page cross-origin
 * isolated (COOP/COEP, so WebAssembly threads work); `/` maps to `index.html` under the `/` mount.
 */
export async function startStaticServer(mounts: Readonly<Record<string, string>>): Promise<StaticServer> {
  const requests: SeenRequest[] = [];
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const method = req.method ?? 'GET';
    const send = (status: number) => {
      requests.push({ method, path, status });
      res.statusCode = status;
    };
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    const prefix = prefixes.find((p) => path.startsWith(p));
    if (prefix === undefined) {
      send(404);
      res.end();
      return;
    }
    const root = mounts[prefix]!;
    const rel = path.slice(prefix.length) || 'index.html';
    const file = normalize(join(root, rel.endsWith('/') ? `${rel}index.html` : rel));
    if (!file.startsWith(normalize(root + sep)) && file !== normalize(root)) {
      send(403);
      res.end();
      return;
    }
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a file');
      send(200);
      res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
      res.setHeader('Content-Length', String(info.size));
      if (method === 'HEAD') {
        res.end();
        return;
      }
      createReadStream(file).pipe(res);
    } catch {
      send(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
