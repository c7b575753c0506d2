// Runs one README snippet (esbuild bundles this with SNIPPET aliased to it): the app around
// it first, then the snippet, then wait for its last event and close the client.
import './runtime.mjs';
import 'snippet';
import { sockless } from '@/lib/sockless';

await globalThis.__until(process.env.SNIPPET_UNTIL);
sockless.close();
process.stdout.write(JSON.stringify({ done: true }) + '\n');
process.exit(0);
