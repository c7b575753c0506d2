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
  /** Options for supabase-js's Realtime client, e.g. `{ transport: WebSocket }` (the `ws`
   * package) on Node 20, which has no global WebSocket. */
  realtimeOptions?: Record<string, unknown>;
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
  realtime: {
    setAuth(token?: string | null): Promise<void> | void;
    connect(): void;
    disconnect(): Promise<unknown> | void;
    isConnected(): boolean;
  };
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
  options: { accessToken: () => Promise<string>; realtime?: Record<string, unknown> },
) => SupabaseLike;

export async function supabaseTransport(settings: SupabaseSettings, getToken: TokenSource): Promise<Transport> {
  const create =
    settings.createClient ??
    ((await import('@supabase/supabase-js')).createClient as unknown as CreateClient);
  const token = async () => (await getToken()) ?? settings.anonKey;
  const client = create(settings.url, settings.anonKey, {
    accessToken: token,
    ...(settings.realtimeOptions ? { realtime: settings.realtimeOptions } : {}),
  });
  return supabaseOver(client, settings, token);
}

/** A token is renewed after this share of its remaining life (Realtime ends a channel whose
 * token expires, and supabase-js itself only refreshes on its 25 s heartbeat). */
const RENEW_AT = 0.75;
const RENEW_MIN_MS = 500;
/** A channel the server closed (its token expired while the tab slept, ...) is reopened. */
const REOPEN_MS = 500;

/** The transport over a supabase-js client (exported for tests with a client of their own). */
export function supabaseOver(
  client: SupabaseLike,
  settings: Pick<SupabaseSettings, 'presenceKey'>,
  token: () => Promise<string>,
): Transport {
  let state: LinkState = 'connecting';
  let down = false;
  let ended = false;
  /** The socket's close (supabase-js ignores connect() until it is closed, which takes a
   * while when the network went away first). */
  let closing: Promise<unknown> = Promise.resolve();
  let renewal: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<(state: LinkState) => void>();
  const set = (next: LinkState) => {
    if (next === state) return;
    state = next;
    for (const listener of listeners) listener(state);
  };
  const joined = new Set<ChannelLike>();

  /** A fresh token to every joined channel (`access_token`), and again before it expires. */
  async function authorize(): Promise<void> {
    const fresh = await token();
    await client.realtime.setAuth(fresh);
    clearTimeout(renewal);
    const left = expiresAt(fresh) - Date.now();
    if (Number.isFinite(left) && !down) {
      renewal = setTimeout(() => void authorize().catch(() => undefined), Math.max(RENEW_MIN_MS, left * RENEW_AT));
    }
  }

  async function join(channel: ChannelLike, onStatus: (status: string, error?: Error) => void) {
    await authorize();
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') set('connected');
      // A dropped socket errors every channel; supabase-js rejoins them when it is back.
      if ((status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') && !client.realtime.isConnected()) {
        set('offline');
        return;
      }
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
      /** Resolves once the client topic is joined: `subscribed` waits for it (a member that
       * is ready hears typing), and so does sending on it. */
      let sideJoined: Promise<void> = Promise.resolve();
      const reopen = (was: ChannelLike, again: () => void) => {
        joined.delete(was);
        setTimeout(() => {
          if (!closed && !ended) again();
        }, REOPEN_MS);
      };
      const clientSide = (): ChannelLike => {
        if (side) return side;
        const opened = client.channel(clientTopic(name), { config: { private: true, broadcast: { self: false } } });
        side = opened;
        let markJoined!: () => void;
        sideJoined = new Promise((resolve) => (markJoined = resolve));
        opened.on('broadcast', { event: '*' }, ((message: { event: string; payload: unknown }) => {
          if (message.event.startsWith('client-')) handlers.message(message.event, message.payload);
        }) as (message: never) => void);
        void join(opened, (status, error) => {
          if (status === 'SUBSCRIBED') markJoined();
          else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
            handlers.failed(error ?? new Error(`${clientTopic(name)}: ${status}`));
          } else if (status === 'CLOSED' && side === opened) {
            side = undefined;
            reopen(opened, clientSide);
          }
        });
        return opened;
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
            void sideJoined.then(() => handlers.subscribed());
          } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
            handlers.failed(error ?? new Error(`${name}: ${status}`));
          } else if (status === 'CLOSED' && channel === opened) {
            reopen(opened, () => void open().catch(fail));
          }
        });
      };
      const fail = (error: unknown) => handlers.failed(error instanceof Error ? error : new Error(String(error)));
      open().catch(fail);
      return {
        async trigger(event, data) {
          const opened = clientSide();
          await sideJoined;
          const outcome = await opened.send({ type: 'broadcast', event, payload: data });
          if (outcome === 'error') throw new Error(`${clientTopic(name)}: ${event} was not sent`);
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
      down = true;
      clearTimeout(renewal);
      closing = Promise.resolve(client.realtime.disconnect()).catch(() => undefined);
      set('offline');
    },
    connect() {
      down = false;
      set('connecting');
      // Closed first, then a fresh token: the channels rejoin with it once the socket is open.
      void closing
        .then(authorize)
        .catch(() => undefined)
        .then(() => client.realtime.connect());
    },
    close() {
      down = true;
      ended = true;
      clearTimeout(renewal);
      for (const channel of joined) void client.removeChannel(channel);
      joined.clear();
      client.realtime.disconnect();
    },
  };
}

/** When a JWT expires (ms since the epoch; Infinity if it does not say). */
export function expiresAt(jwt: string): number {
  const exp = claims(jwt).exp;
  return typeof exp === 'number' ? exp * 1000 : Infinity;
}

/** The `sub` claim of a JWT (the presence key), without verifying it: the server does. */
export function subject(jwt: string): string {
  const sub = claims(jwt).sub;
  return typeof sub === 'string' ? sub : '';
}

function claims(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? '';
  try {
    const parsed: unknown = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
