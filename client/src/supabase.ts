/**
 * The supabase-js transport (Supabase Realtime broadcast, private channels). Written against
 * supabase-js's public API only:
 *
 *   createClient(url, anonKey, { accessToken })   tokens from getToken(), asked every time
 *   client.realtime.setAuth(token)                before every join (and rejoin)
 *   client.channel(topic, { config: { private: true, presence: { key } } })
 *   channel.on('broadcast', { event: '*' }, ...)  server events: event = type, payload = envelope
 *   channel.on('presence', { event: 'sync' }, ...) + channel.track(...)   presence channels
 *
 * Channel names stay in Pusher form everywhere else; here they map to topics
 * (lib/realtime/channels.py): `private-user-42` -> `user-42` (private), `presence-poker-<id>`
 * -> `poker-<id>` (private, with presence), a public name unchanged. Client events
 * (`client-typing`) travel on the topic `client:{topic}`, which members may send on, never on
 * the server's topic.
 */
import type { LinkState, Transport, TransportHandlers, TransportSubscription } from './transport.js';
import type { Member, TokenSource } from './types.js';

export interface SupabaseSettings {
  provider: 'supabase';
  /** SUPABASE_URL (`make dev`: http://127.0.0.1:54321). */
  url: string;
  /** The anon key (public). */
  anonKey: string;
  /** Presence key on presence channels; default: the token's `sub`. */
  presenceKey?: string;
  /** supabase-js's createClient, if you import it yourself (default: `import(...)`). */
  createClient?: CreateClient;
}

export interface Topic {
  topic: string;
  private: boolean;
  presence: boolean;
}

/** A Pusher-form channel name -> its Supabase Realtime topic. */
export function supabaseTopic(channel: string): Topic {
  if (channel.startsWith('private-encrypted-')) {
    throw new Error(`${channel}: Supabase Realtime has no encrypted channels`);
  }
  if (channel.startsWith('private-')) return { topic: channel.slice(8), private: true, presence: false };
  if (channel.startsWith('presence-')) return { topic: channel.slice(9), private: true, presence: true };
  return { topic: channel, private: false, presence: false };
}

/** The topic members send and receive client events on. */
export function clientTopic(channel: string): string {
  return `client:${supabaseTopic(channel).topic}`;
}

/** The part of supabase-js this transport uses (structural: any 2.x client fits). */
export interface SupabaseLike {
  realtime: { setAuth(token?: string | null): Promise<void> | void; connect(): void; disconnect(): void };
  channel(topic: string, options: { config: Record<string, unknown> }): ChannelLike;
  removeChannel(channel: ChannelLike): Promise<unknown>;
}
export interface ChannelLike {
  on(type: string, filter: { event: string }, callback: (message: never) => void): ChannelLike;
  subscribe(callback?: (status: string, error?: Error) => void): ChannelLike;
  send(message: { type: 'broadcast'; event: string; payload: unknown }): Promise<string>;
  track(payload: Record<string, unknown>): Promise<unknown>;
  presenceState(): Record<string, Array<Record<string, unknown>>>;
}
export type CreateClient = (
  url: string,
  key: string,
  options: { accessToken: () => Promise<string> },
) => SupabaseLike;

export async function supabaseTransport(settings: SupabaseSettings, getToken: TokenSource): Promise<Transport> {
  const create =
    settings.createClient ??
    ((await import('@supabase/supabase-js')).createClient as unknown as CreateClient);
  const token = async () => (await getToken()) ?? settings.anonKey;
  const client = create(settings.url, settings.anonKey, { accessToken: token });
  return supabaseOver(client, settings, token);
}

/** The transport over a supabase-js client (exported for tests with a client of their own). */
export function supabaseOver(
  client: SupabaseLike,
  settings: Pick<SupabaseSettings, 'presenceKey'>,
  token: () => Promise<string>,
): Transport {
  let state: LinkState = 'connecting';
  const listeners = new Set<(state: LinkState) => void>();
  const set = (next: LinkState) => {
    if (next === state) return;
    state = next;
    for (const listener of listeners) listener(state);
  };
  const joined = new Set<ChannelLike>();

  async function join(channel: ChannelLike, onStatus: (status: string, error?: Error) => void) {
    await client.realtime.setAuth(await token());
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') set('connected');
      if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') set('offline');
      onStatus(status, error);
    });
    joined.add(channel);
  }

  return {
    get state() {
      return state;
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribe(name: string, handlers: TransportHandlers): TransportSubscription {
      const { topic, private: isPrivate, presence } = supabaseTopic(name);
      let channel: ChannelLike | undefined;
      let side: ChannelLike | undefined;
      let closed = false;
      const clientSide = (): ChannelLike => {
        if (side) return side;
        side = client.channel(clientTopic(name), { config: { private: true, broadcast: { self: false } } });
        side.on('broadcast', { event: '*' }, ((message: { event: string; payload: unknown }) => {
          if (message.event.startsWith('client-')) handlers.message(message.event, message.payload);
        }) as (message: never) => void);
        void join(side, () => undefined);
        return side;
      };
      const open = async () => {
        const key = presence ? (settings.presenceKey ?? subject(await token())) : undefined;
        if (closed) return;
        const config: Record<string, unknown> = { private: isPrivate, broadcast: { self: false } };
        if (presence) config.presence = { key };
        const opened = client.channel(topic, { config });
        channel = opened;
        opened.on('broadcast', { event: '*' }, ((message: { event: string; payload: unknown }) =>
          handlers.message(message.event, message.payload)) as (message: never) => void);
        if (presence) {
          opened.on('presence', { event: 'sync' }, (() => {
            const list: Member[] = Object.entries(opened.presenceState()).map(([id, metas]) => ({
              id,
              info: metas[0] ?? null,
            }));
            handlers.members?.(list);
          }) as (message: never) => void);
        }
        if (handlers.clientEvents) clientSide();
        await join(opened, (status, error) => {
          if (status === 'SUBSCRIBED') {
            if (presence) void opened.track({ userId: key, at: new Date().toISOString() });
            handlers.subscribed();
          } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
            handlers.failed(error ?? new Error(`${name}: ${status}`));
          }
        });
      };
      open().catch((error: unknown) => handlers.failed(error instanceof Error ? error : new Error(String(error))));
      return {
        async trigger(event, data) {
          await clientSide().send({ type: 'broadcast', event, payload: data });
        },
        unsubscribe() {
          closed = true;
          for (const each of [channel, side]) {
            if (!each) continue;
            joined.delete(each);
            void client.removeChannel(each);
          }
        },
      };
    },
    disconnect() {
      client.realtime.disconnect();
      set('offline');
    },
    connect() {
      void token().then(async (fresh) => {
        await client.realtime.setAuth(fresh);
        client.realtime.connect();
      });
    },
    close() {
      for (const channel of joined) void client.removeChannel(channel);
      joined.clear();
      client.realtime.disconnect();
    },
  };
}

/** The `sub` claim of a JWT (the presence key), without verifying it: the server does. */
export function subject(jwt: string): string {
  const part = jwt.split('.')[1] ?? '';
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : '';
  } catch {
    return '';
  }
}
