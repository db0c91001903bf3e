import { createReadStream, existsSync, statSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

// The demo runs from the packages' sources: no `npm run build` needed first.
const repo = fileURLToPath(new URL('../../', import.meta.url));
const source = (name: string) => join(repo, 'packages', name, 'src', 'index.ts');
// The shipped model, the shapes world's x4 upscaler ("Upscale ×4") and its grounded model ("Generate
// layout"), each served and copied to its URL.
const shippedFolders = [
  { url: '/models/shapes/', dir: join(repo, 'packages', 'model-shapes', 'model') },
  { url: '/models/shapes-upscaler/', dir: join(repo, 'packages', 'model-shapes', 'upscaler') },
  { url: '/models/shapes-layout/', dir: join(repo, 'packages', 'model-shapes', 'layout') },
];

// What every page that runs latentkit needs (docs/browser.md shows these lines): WebAssembly threads need
// SharedArrayBuffer, which browsers give only cross-origin isolated pages; onnxruntime-web finds its .wasm
// beside its own script, and Vite's dependency pre-bundling would move it.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
const latentkitSettings = {
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' as const },
  server: { headers: isolation },
  preview: { headers: isolation },
};

/**
 * Serves the shipped model (packages/model-shapes/model) at /models/shapes/, the shapes upscaler
 * (packages/model-shapes/upscaler) at /models/shapes-upscaler/ and the grounded shapes model
 * (packages/model-shapes/layout) at /models/shapes-layout/ in `vite dev` and `vite preview`, and copies
 * them into the build, so the page works with no model URL typed in.
 */
function shippedModel(): Plugin {
  const serve = (server: { middlewares: { use: (fn: Connect) => void } }) => {
    server.middlewares.use((req, res, next) => {
      const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
      const folder = shippedFolders.find((f) => path.startsWith(f.url));
      if (!folder) return next();
      const file = normalize(join(folder.dir, path.slice(folder.url.length)));
      if (!file.startsWith(folder.dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('Content-Length', String(statSync(file).size));
      res.setHeader(
        'Content-Type',
        extname(file) === '.json' ? 'application/json' : 'application/octet-stream',
      );
      for (const [k, v] of Object.entries(isolation)) res.setHeader(k, v);
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    });
  };
  let outDir = '';
  return {
    name: 'latentkit-shipped-model',
    configureServer: serve,
    configurePreviewServer: serve,
    configResolved(config) {
      // build.outDir is relative to the project root (examples/web), not to the working directory.
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      for (const { url, dir } of shippedFolders) {
        if (existsSync(join(dir, 'model_index.json'))) {
          await cp(dir, join(outDir, ...url.split('/').filter(Boolean)), { recursive: true });
        }
      }
    },
  };
}

type Connect = (
  req: { url?: string; method?: string },
  res: { statusCode: number; setHeader(k: string, v: string): void; end(): void } & NodeJS.WritableStream,
  next: () => void,
) => void;

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  ...latentkitSettings,
  root,
  base: './',
  resolve: {
    alias: {
      '@latentkit/core': source('core'),
      '@latentkit/schedulers': source('schedulers'),
      '@latentkit/onnx': source('onnx'),
      '@latentkit/backend-web': source('backend-web'),
      '@latentkit/model-shapes': source('model-shapes'),
    },
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2048,
    // The demo, and the two small pages docs/browser.md copies its code from.
    rollupOptions: {
      input: {
        demo: join(root, 'index.html'),
        minimal: join(root, 'minimal.html'),
        'no-worker': join(root, 'no-worker.html'),
      },
    },
  },
  plugins: [shippedModel()],
});
