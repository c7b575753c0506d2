// client/ (built to client/dist) driven over stdin/stdout, for tests/client.
//
//   node tests/js/client/driver.mjs '{"baseUrl": "http://127.0.0.1:PORT", "key": "...",
//        "host": "127.0.0.1", "port": 6001, "secret": "<jwt secret>", "user": "alice",
//        "ttlS": 3600}'
//   Supabase mode: add "provider": "supabase", "supabaseUrl", "anonKey" (supabase-js against
//   the stack's local Realtime server instead of pusher-js).
//
// getToken() mints a fresh HS256 user token (like dev/token.py) on every call, with `ttlS`
// seconds of life, and reports each one ({"type":"token"}) so a test can see it is asked again.
// stdin:  {"op":"subscribe","channel","events":[names],"after"?}, {"op":"unsubscribe","channel"},
//         {"op":"trpc","ref","path","kind":"query"|"mutation","input"},
//         {"op":"send","ref","path","input","clientId"}, {"op":"trigger","channel","event","data"},
//         {"op":"disconnect"}, {"op":"connect"}, {"op":"stats","channel"}
// stdout: {"type":"state","state"}, {"type":"ready","channel"}, {"type":"event","channel",
//         "event","id","data"}, {"type":"pending","items":[{clientId,status}]},
//         {"type":"result","ref","ok","value"|"error"}, {"type":"stats",...}, {"type":"error",...}
// The process exits by itself after `lifetimeMs` (default 40 s).
import { createHmac, randomUUID } from 'node:crypto';
import readline from 'node:readline';

import WebSocket from 'ws';

import { createSockless } from '../../../client/dist/index.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const emit = (observation) => process.stdout.write(JSON.stringify(observation) + '\n');
setTimeout(() => {
  emit({ type: 'lifetime_expired' });
  process.exit(3);
}, options.lifetimeMs ?? 40000).unref();

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
let minted = 0;
function getToken() {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'supabase-local', aud: 'authenticated', sub: options.user, role: 'authenticated',
    iat: now, exp: now + (options.ttlS ?? 3600), session_id: randomUUID(), email: `${options.user}@example.test`,
  };
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  const signature = createHmac('sha256', options.secret).update(body).digest('base64url');
  minted += 1;
  emit({ type: 'token', minted });
  return Promise.resolve(`${body}.${signature}`);
}

const sockless = createSockless({
  baseUrl: options.baseUrl,
  getToken,
  realtime:
    options.provider === 'supabase'
      ? { provider: 'supabase', url: options.supabaseUrl, anonKey: options.anonKey, realtimeOptions: { transport: WebSocket } }
      : { provider: 'pusher', key: options.key, wsHost: options.host, wsPort: options.port },
});
sockless.realtime.onState((state) => emit({ type: 'state', state }));
sockless.optimistic.onChange((items) =>
  emit({ type: 'pending', items: items.map((item) => ({ clientId: item.clientId, status: item.status })) }),
);

const subscriptions = new Map();
const procedure = (path) => path.split('.').reduce((node, part) => node[part], sockless.trpc);
const describe = (error) => ({ message: String(error?.message ?? error), code: error?.data?.code ?? error?.code });

const commands = {
  subscribe({ channel, events = [], after }) {
    const handlers = {};
    for (const event of events) {
      handlers[event] = (data, envelope) => emit({ type: 'event', channel, event, id: envelope?.id ?? null, data });
    }
    const subscription = sockless.realtime.subscribe(channel, handlers, {
      after,
      error: (error) => emit({ type: 'error', channel, error: describe(error) }),
      members: (members) => emit({ type: 'members', channel, ids: members.map((m) => m.id) }),
    });
    subscriptions.set(channel, subscription);
    subscription.ready.then(() => emit({ type: 'ready', channel }));
  },
  unsubscribe({ channel }) {
    subscriptions.get(channel)?.unsubscribe();
  },
  async trpc({ ref, path, kind, input }) {
    try {
      const value = await (kind === 'query' ? procedure(path).query(input) : procedure(path).mutate(input));
      emit({ type: 'result', ref, ok: true, value });
    } catch (error) {
      emit({ type: 'result', ref, ok: false, error: describe(error) });
    }
  },
  async send({ ref, path, input, clientId }) {
    const pending = sockless.send((full) => procedure(path).mutate(full), input, { clientId });
    emit({ type: 'sent', ref, clientId: pending.clientId, status: pending.status });
    try {
      emit({ type: 'result', ref, ok: true, value: await pending.result });
    } catch (error) {
      emit({ type: 'result', ref, ok: false, error: describe(error) });
    }
  },
  async trigger({ ref, channel, event, data }) {
    try {
      await subscriptions.get(channel).trigger(event, data);
      emit({ type: 'result', ref, ok: true });
    } catch (error) {
      emit({ type: 'result', ref, ok: false, error: describe(error) });
    }
  },
  disconnect: () => sockless.realtime.disconnect(),
  connect: () => sockless.realtime.connect(),
  stats({ channel }) {
    const subscription = subscriptions.get(channel);
    emit({ type: 'stats', channel, lastId: subscription.lastId, ...subscription.stats, tokens: minted });
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  Promise.resolve(commands[command.op](command)).catch((error) => emit({ type: 'error', error: describe(error) }));
});
process.stdin.on('end', () => {
  sockless.close();
  process.exit(0);
});
