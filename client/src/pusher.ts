/**
 * The pusher-js transport. Channel authorization goes through a custom handler that asks
 * `getToken()` on every subscribe, so a resubscription after a reconnect carries a fresh
 * token (a Clerk token lives ~60 s); pusher-js resubscribes every channel after a reconnect,
 * which the Feed hears as `subscribed` and answers with a catch-up.
 */
import type { Transport, TransportHandlers, TransportSubscription, LinkState } from './transport.js';
import type { Member, TokenSource } from './types.js';

export interface PusherSettings {
  provider: 'pusher';
  /** PUSHER_KEY (public). */
  key: string;
  /** Pusher cloud cluster (e.g. "eu"); for the local server give wsHost/wsPort instead. */
  cluster?: string;
  /** The local Pusher-protocol server (`make dev`: 127.0.0.1, 6001, forceTLS false). */
  wsHost?: string;
  wsPort?: number;
  forceTLS?: boolean;
  /** Default `${baseUrl}/api/realtime/auth`. */
  authEndpoint?: string;
  /** The pusher-js constructor, if you import it yourself (default: `import('pusher-js')`). */
  Pusher?: PusherConstructor;
}

/** The part of pusher-js this transport uses (structural, so any 8.x build fits). */
export interface PusherLike {
  connection: {
    state: string;
    bind(event: 'state_change', callback: (states: { previous: string; current: string }) => void): void;
    unbind(event: 'state_change', callback: (states: { previous: string; current: string }) => void): void;
  };
  subscribe(name: string): PusherChannelLike;
  unsubscribe(name: string): void;
  connect(): void;
  disconnect(): void;
}
interface PusherChannelLike {
  bind(event: string, callback: (data: unknown, metadata?: unknown) => void): unknown;
  bind_global(callback: (event: string, data: unknown) => void): unknown;
  trigger(event: string, data: unknown): boolean;
  members?: { each(callback: (member: { id: string; info: unknown }) => void): void };
}
export type PusherConstructor = new (key: string, options: Record<string, unknown>) => PusherLike;

export async function pusherTransport(
  settings: PusherSettings,
  baseUrl: string,
  getToken: TokenSource,
  fetcher: typeof fetch,
): Promise<Transport> {
  const Pusher = settings.Pusher ?? ((await import('pusher-js')).default as unknown as PusherConstructor);
  const endpoint = settings.authEndpoint ?? `${baseUrl}/api/realtime/auth`;
  const local = settings.wsHost !== undefined;
  const pusher = new Pusher(settings.key, {
    cluster: settings.cluster ?? 'local', // pusher-js 8 requires one; unused once wsHost is set
    ...(local
      ? { wsHost: settings.wsHost, wsPort: settings.wsPort, forceTLS: settings.forceTLS ?? false, enabledTransports: ['ws'] }
      : { forceTLS: settings.forceTLS ?? true }),
    disableStats: true,
    channelAuthorization: {
      customHandler: (
        params: { socketId: string; channelName: string },
        callback: (error: Error | null, data: { auth: string; channel_data?: string } | null) => void,
      ) => {
        authorize(params.socketId, params.channelName).then(
          (data) => callback(null, data),
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
        );
      },
    },
  });

  async function authorize(socketId: string, channelName: string) {
    const token = await getToken();
    const response = await fetcher(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: new URLSearchParams({ socket_id: socketId, channel_name: channelName }).toString(),
    });
    const body = (await response.json().catch(() => null)) as
      | { auth?: string; channel_data?: string; error?: { code?: string; message?: string } }
      | null;
    if (!response.ok || !body?.auth) {
      throw new Error(`${channelName}: authorization refused (${response.status} ${body?.error?.code ?? ''})`);
    }
    return { auth: body.auth, ...(body.channel_data ? { channel_data: body.channel_data } : {}) };
  }

  const listeners = new Set<(state: LinkState) => void>();
  const linkState = (): LinkState => {
    const state = pusher.connection.state;
    if (state === 'connected') return 'connected';
    if (state === 'initialized' || state === 'connecting') return 'connecting';
    return 'offline'; // unavailable, failed, disconnected
  };
  const onChange = () => {
    for (const listener of listeners) listener(linkState());
  };
  pusher.connection.bind('state_change', onChange);

  return {
    get state() {
      return linkState();
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribe(name: string, handlers: TransportHandlers): TransportSubscription {
      const channel = pusher.subscribe(name);
      const members = () => {
        if (!channel.members || !handlers.members) return;
        const list: Member[] = [];
        channel.members.each((member) => list.push({ id: member.id, info: member.info }));
        handlers.members(list);
      };
      channel.bind('pusher:subscription_succeeded', () => {
        members();
        handlers.subscribed();
      });
      channel.bind('pusher:subscription_error', (error) => {
        const status = (error as { status?: number } | null)?.status;
        handlers.failed(new Error(`${name}: subscription refused${status ? ` (${status})` : ''}`));
      });
      channel.bind('pusher:member_added', members);
      channel.bind('pusher:member_removed', members);
      channel.bind_global((event, data) => {
        if (event.startsWith('pusher:') || event.startsWith('pusher_internal:')) return;
        handlers.message(event, data);
      });
      return {
        async trigger(event, data) {
          if (!channel.trigger(event, data)) throw new Error(`${name}: ${event} was not sent (not subscribed?)`);
        },
        unsubscribe: () => pusher.unsubscribe(name),
      };
    },
    disconnect: () => pusher.disconnect(),
    connect: () => pusher.connect(),
    close() {
      pusher.connection.unbind('state_change', onChange);
      pusher.disconnect();
    },
  };
}
