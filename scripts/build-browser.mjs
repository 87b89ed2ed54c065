// Bundles push-ens's browser code with esbuild (part of `npm run build`):
//   dist/browser/push-ens.js       the API (import { loadPosterior } from 'push-ens/browser')
//   dist/browser/push-ens-page.js  the API plus the demo page that `push-ens export` writes
// Both are minified ESM with tfjs-core and the webgl, wasm and cpu backends inside.
// src/nn's forward pass is bundled from our sources: its import of src/util/tf
// (Node's module loader) is mapped to src/browser/tf.ts, and tfjs-layers models
// (not exported) to a stub. Any Node built-in left in the graph fails the build.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = (...p) => path.join(root, 'src', ...p);

const nodeBuiltins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Our Node-only modules swapped for browser stand-ins; Node built-ins refused. */
const browserOnly = {
  name: 'push-ens-browser',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const fromOurs = args.importer.startsWith(src());
      if (fromOurs && args.path.startsWith('.')) {
        const target = path.resolve(path.dirname(args.importer), args.path);
        if (target === src('util', 'tf')) return { path: src('browser', 'tf.ts') };
        if (target === src('nn', 'layers-model')) return { path: src('browser', 'layers-model-stub.ts') };
      }
      if (nodeBuiltins.has(args.path) && fromOurs) {
        return { errors: [{ text: `${path.relative(root, args.importer)} imports the Node module "${args.path}": the browser bundle must not` }] };
      }
      return undefined;
    });
  },
};

export async function buildBrowser({ quiet = false } = {}) {
  const result = await esbuild.build({
    entryPoints: { 'push-ens': src('browser', 'index.ts'), 'push-ens-page': src('browser', 'page', 'main.ts') },
    outdir: path.join(root, 'dist', 'browser'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
    plugins: [browserOnly],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  // Every module the bundles resolved (the page bundle's graph holds the API's), for the test
  // that keeps Node-only modules out.
  const inputs = Object.keys(result.metafile.inputs).sort();
  fs.writeFileSync(path.join(root, 'dist', 'browser', 'bundle-inputs.json'), JSON.stringify(inputs, null, 1));
  return Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, o]) => [path.relative(root, file), o.bytes]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildBrowser({ quiet: process.argv.includes('--quiet') }).then(
    (sizes) => {
      if (!process.argv.includes('--quiet')) for (const [file, bytes] of Object.entries(sizes)) console.log(`${file}: ${(bytes / 1024).toFixed(0)} KiB`);
    },
    (err) => {
      console.error(`build-browser: ${err.message.split('\n')[0]}`);
      process.exit(1);
    },
  );
}
