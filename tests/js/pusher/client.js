// One pusher-js client driven over stdin/stdout, for tests/realtime.
//
//   node tests/js/pusher/client.js '{"host":"127.0.0.1","port":6001,"key":"k",
//                                    "authEndpoint":"http://127.0.0.1:PORT/auth", ...}'
//
// stdin:  one JSON command per line: {"op":"subscribe","channel":"private-x","bind":[names]},
//         {"op":"unsubscribe",...}, {"op":"trigger","channel","event","data"},
//         {"op":"signin"}, {"op":"disconnect"}
// stdout: one JSON observation per line, e.g. {"type":"connected","socket_id":"1.2"},
//         {"type":"subscribed","channel":...}, {"type":"event","channel","event","data",...}
//
// Everything is bounded: the process exits by itself after `lifetimeMs` (default 30 s).
import Pusher from 'pusher-js';
import readline from 'node:readline';

const options = JSON.parse(process.argv[2] ?? '{}');
const emit = (observation) => process.stdout.write(JSON.stringify(observation) + '\n');

const lifetime = setTimeout(() => {
  emit({ type: 'lifetime_expired' });
  process.exit(3);
}, options.lifetimeMs ?? 30000);

const params = options.params ?? {};
const headers = options.headers ?? {}; // e.g. {"Authorization": "Bearer <user JWT>"}
const pusher = new Pusher(options.key, {
  cluster: 'local', // required by pusher-js 8, unused once wsHost is set
  wsHost: options.host,
  wsPort: options.port,
  forceTLS: false,
  enabledTransports: ['ws'],
  disableStats: true,
  activityTimeout: options.activityTimeoutMs ?? 120000,
  channelAuthorization: { endpoint: options.authEndpoint, transport: 'ajax', params, headers },
  userAuthentication: { endpoint: options.userAuthEndpoint, transport: 'ajax', params, headers },
});

pusher.connection.bind('state_change', ({ previous, current }) => {
  emit({ type: 'state', previous, current });
  if (current === 'connected') emit({ type: 'connected', socket_id: pusher.connection.socket_id });
});
pusher.connection.bind('error', (error) => emit({ type: 'error', error }));
pusher.connection.bind('message', (message) => {
  if (message.event === 'pusher:signin_success') emit({ type: 'signed_in', data: message.data });
  if (message.event === 'pusher_internal:subscription_succeeded' && message.channel?.startsWith('#server-to-user-')) {
    emit({ type: 'user_channel_ready', channel: message.channel });
  }
});
pusher.user.bind_global((event, data) => emit({ type: 'user_event', event, data }));

function subscribe(name, bind = []) {
  const channel = pusher.subscribe(name);
  // Global bindings get no metadata (user_id on presence client events); named ones do.
  for (const event of bind) {
    channel.bind(event, (data, metadata) => emit({ type: 'bound_event', channel: name, event, data, metadata }));
  }
  channel.bind('pusher:subscription_succeeded', (data) => {
    const members = channel.members
      ? { count: channel.members.count, me: channel.members.me, ids: Object.keys(channel.members.members) }
      : undefined;
    emit({ type: 'subscribed', channel: name, members, data: channel.members ? undefined : data });
  });
  channel.bind('pusher:subscription_error', (error) => emit({ type: 'subscription_error', channel: name, error }));
  channel.bind('pusher:cache_miss', () => emit({ type: 'cache_miss', channel: name }));
  channel.bind('pusher:member_added', (member) => emit({ type: 'member_added', channel: name, member }));
  channel.bind('pusher:member_removed', (member) => emit({ type: 'member_removed', channel: name, member }));
  channel.bind_global((event, data) => {
    if (event.startsWith('pusher:') || event.startsWith('pusher_internal:')) return;
    emit({ type: 'event', channel: name, event, data });
  });
}

const commands = {
  subscribe: ({ channel, bind }) => subscribe(channel, bind),
  unsubscribe: ({ channel }) => pusher.unsubscribe(channel),
  trigger: ({ channel, event, data }) => {
    try {
      emit({ type: 'triggered', channel, event, sent: pusher.channel(channel).trigger(event, data) });
    } catch (error) {
      emit({ type: 'trigger_failed', channel, event, error: String(error) });
    }
  },
  signin: () => pusher.signin(),
  disconnect: () => {
    pusher.disconnect();
    clearTimeout(lifetime);
    emit({ type: 'bye' });
    setTimeout(() => process.exit(0), 50);
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  const run = commands[command.op];
  if (run) run(command);
  else emit({ type: 'unknown_op', op: command.op });
});
