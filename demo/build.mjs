// Bundles the demo app (demo/*.ts, built on client/) into public/app.js with esbuild: no CDN,
// Vercel serves public/ as static files and `make dev` serves it the same way.
//   node demo/build.mjs            (make demo; make dev runs it first)
import { build } from 'esbuild';

await build({
  entryPoints: ['demo/app.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  alias: { '@sockless/client': './client/src/index.ts' },
  // supabase-js is loaded only when the realtime provider is supabase (a separate chunk would
  // need splitting; the demo ships pusher-js and supabase-js in one file instead)
  outfile: 'public/app.js',
  logLevel: 'warning',
});
console.log('wrote public/app.js');
