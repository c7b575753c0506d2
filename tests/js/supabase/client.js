// One official @supabase/supabase-js client driven over stdin/stdout, for tests/supabase_realtime.
//
//   node tests/js/supabase/client.js '{"url":"http://127.0.0.1:54321","anonKey":"...",
//                                      "token":"<user JWT>","vsn":"2.0.0"}'
//
// stdin:  one JSON command per line:
//   {"op":"subscribe","topic":"user-42","private":true,"self":false,"ack":false,
//    "presenceKey":"alice"}                              -> {"type":"status",...}
//   {"op":"send","topic","event","payload"}               -> {"type":"sent","result"}
//   {"op":"track","topic","payload"} / {"op":"untrack","topic"} -> {"type":"tracked"|"untracked","result"}
//   {"op":"setAuth","token"} (realtime.setAuth: the new token goes to every joined channel)
//   {"op":"unsubscribe","topic"}   {"op":"disconnect"}
// stdout: one JSON observation per line: status (SUBSCRIBED, CHANNEL_ERROR + error, CLOSED),
//   broadcast {topic,event,payload}, presence {topic,event,key,state}, system {topic,payload}.
//
// Node 20 has no global WebSocket: the `ws` package is passed as realtime's transport
// (supabase-js's documented option). Bounded: exits by itself after `lifetimeMs` (45 s).
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import readline from 'node:readline';

const options = JSON.parse(process.argv[2] ?? '{}');
const emit = (observation) => process.stdout.write(JSON.stringify(observation) + '\n');
const lifetime = setTimeout(() => {
  emit({ type: 'lifetime_expired' });
  process.exit(3);
}, options.lifetimeMs ?? 45000);

// The user's JWT comes from the app's own auth (Clerk, or `python -m dev.token` locally):
// supabase-js's `accessToken` option, which Realtime reads at connect and at every join.
let token = options.token ?? null;
const supabase = createClient(options.url, options.anonKey, {
  accessToken: async () => token,
  realtime: { transport: WebSocket, vsn: options.vsn ?? '2.0.0', timeout: 5000 },
});

const channels = new Map();

function subscribe(cmd) {
  const channel = supabase.channel(cmd.topic, {
    config: {
      private: !!cmd.private,
      broadcast: { self: !!cmd.self, ack: !!cmd.ack },
      presence: { key: cmd.presenceKey ?? '' },
    },
  });
  channels.set(cmd.topic, channel);
  channel.on('broadcast', { event: '*' }, (message) =>
    emit({ type: 'broadcast', topic: cmd.topic, event: message.event, payload: message.payload }),
  );
  channel.on('system', {}, (payload) => emit({ type: 'system', topic: cmd.topic, payload }));
  if (cmd.presenceKey !== undefined) {
    for (const event of ['sync', 'join', 'leave']) {
      channel.on('presence', { event }, (info) =>
        emit({ type: 'presence', topic: cmd.topic, event, key: info?.key, state: channel.presenceState() }),
      );
    }
  }
  channel.subscribe((status, error) =>
    emit({ type: 'status', topic: cmd.topic, status, error: error ? String(error.message ?? error) : null }),
  );
}

const ops = {
  subscribe,
  async send(cmd) {
    const result = await channels
      .get(cmd.topic)
      .send({ type: 'broadcast', event: cmd.event, payload: cmd.payload }, { timeout: cmd.timeoutMs ?? 5000 });
    emit({ type: 'sent', topic: cmd.topic, result });
  },
  async track(cmd) {
    emit({ type: 'tracked', topic: cmd.topic, result: await channels.get(cmd.topic).track(cmd.payload ?? {}) });
  },
  async untrack(cmd) {
    emit({ type: 'untracked', topic: cmd.topic, result: await channels.get(cmd.topic).untrack() });
  },
  async setAuth(cmd) {
    token = cmd.token; // what the app's auth would now return
    await supabase.realtime.setAuth(cmd.token);
    emit({ type: 'auth_set' });
  },
  async unsubscribe(cmd) {
    const channel = channels.get(cmd.topic);
    channels.delete(cmd.topic);
    emit({ type: 'unsubscribed', topic: cmd.topic, result: await supabase.removeChannel(channel) });
  },
  async disconnect() {
    await supabase.removeAllChannels();
    supabase.realtime.disconnect();
    clearTimeout(lifetime);
    emit({ type: 'disconnected' });
    process.exit(0);
  },
};

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  try {
    await ops[cmd.op](cmd);
  } catch (error) {
    emit({ type: 'command_error', op: cmd.op, error: String(error?.message ?? error) });
  }
});
process.stdin.on('end', () => process.exit(0));
emit({ type: 'ready' });
