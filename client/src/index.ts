/**
 * @sockless/client: the typed tRPC client and realtime subscriptions that never miss an event.
 *
 *   import { createSockless } from '@sockless/client';
 *   import type { AppRouter, ChannelEvents } from './generated/trpc'; // `make types`
 *
 *   const sockless = createSockless<AppRouter, ChannelEvents>({
 *     baseUrl: '',                                  // same origin (a rewrite), or the API's URL
 *     getToken: () => clerk.session?.getToken(),    // asked before every call and subscribe
 *     realtime: { provider: 'pusher', key: 'app-key', cluster: 'eu' },
 *   });
 *   await sockless.trpc.poker.join.mutate({ sessionId });
 *   const room = sockless.realtime.subscribe(`presence-poker-${sessionId}`, {
 *     vote: (vote) => markVoted(vote.userId),        // typed from the pydantic event models
 *   });
 *   await room.ready;                                // subscribed and caught up
 */
import { createTRPCClient, httpBatchLink, type TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';

import { startHeartbeat } from './heartbeat.js';
import { historyClient } from './history.js';
import { clientIdOf, Optimistic, type Pending } from './optimistic.js';
import { pusherTransport, type PusherSettings } from './pusher.js';
import { Realtime } from './realtime.js';
import { supabaseTransport, type SupabaseSettings } from './supabase.js';
import type { Transport } from './transport.js';
import type { EventMap, TokenSource } from './types.js';

export interface SocklessOptions {
  /** Where the API is: '' for the same origin (a rewrite), else e.g. https://api.example.com. */
  baseUrl: string;
  /** The user's current token (Clerk, Supabase Auth, dev token); asked every time. */
  getToken: TokenSource;
  realtime: PusherSettings | SupabaseSettings | { provider: 'custom'; transport: Transport };
  /** fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** tRPC endpoint path (default /api/trpc). */
  trpcPath?: string;
  /** Supabase mode: report the user online with `messaging.heartbeat` while connected
   * (default true; Pusher mode learns it from Pusher's webhooks and never beats). */
  heartbeat?: boolean;
}

export interface Sockless<TRouter extends AnyRouter, M extends EventMap> {
  /** The typed tRPC client (`@trpc/client`), with a fresh token on every request. */
  trpc: ReturnType<typeof createTRPCClient<TRouter>>;
  realtime: Realtime<M>;
  /** Optimistic sends: a temporary item now, replaced by the server event with its clientId. */
  send<I extends { clientId: string }, O>(
    mutation: (input: I) => Promise<O>,
    input: Omit<I, 'clientId'>,
    options?: { clientId?: string },
  ): Pending<I, O>;
  optimistic: Optimistic;
  close(): void;
}

export function createSockless<TRouter extends AnyRouter, M extends EventMap>(
  options: SocklessOptions,
): Sockless<TRouter, M> {
  const fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  const baseUrl = options.baseUrl.replace(/\/$/, '');
  const authorization = async (): Promise<Record<string, string>> => {
    const token = await options.getToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  };
  // Plain JSON links (the Sockless API's wire format); the router's types come from TRouter.
  const trpcUrl = `${baseUrl}${options.trpcPath ?? '/api/trpc'}`;
  const link = httpBatchLink<AnyRouter>({
    url: trpcUrl,
    headers: authorization,
    fetch: fetcher,
  }) as unknown as TRPCLink<TRouter>;
  const trpc = createTRPCClient<TRouter>({ links: [link] });
  const settings = options.realtime;
  const transport: Promise<Transport> =
    settings.provider === 'pusher'
      ? pusherTransport(settings, baseUrl, options.getToken, fetcher)
      : settings.provider === 'supabase'
        ? supabaseTransport(settings, options.getToken)
        : Promise.resolve(settings.transport);
  transport.catch(() => undefined); // the realtime handle reports it as 'offline'
  const optimistic = new Optimistic();
  const realtime = new Realtime<M>(transport, historyClient(baseUrl, options.getToken, fetcher), (_channel, envelope) => {
    const clientId = clientIdOf(envelope.data);
    if (clientId) optimistic.confirm(clientId);
  });
  const stopBeating =
    settings.provider === 'supabase' && options.heartbeat !== false
      ? startHeartbeat({ url: trpcUrl, getToken: options.getToken, fetch: fetcher, onState: (l) => realtime.onState(l) })
      : () => undefined;
  return {
    trpc,
    realtime,
    send: (mutation, input, sendOptions) => optimistic.send(mutation, input, sendOptions),
    optimistic,
    close: () => {
      stopBeating();
      realtime.close();
    },
  };
}

export { Realtime, type Subscription, type SubscribeOptions } from './realtime.js';
export { Feed, type History } from './feed.js';
export { historyClient, HistoryError } from './history.js';
export { startHeartbeat, HEARTBEAT_MS } from './heartbeat.js';
export { Optimistic, clientIdOf, type Pending, type PendingStatus } from './optimistic.js';
export { pusherTransport, type PusherSettings } from './pusher.js';
export { supabaseTransport, supabaseOver, supabaseTopic, clientTopic, subject, expiresAt, type SupabaseSettings } from './supabase.js';
export type { Transport, TransportHandlers, TransportSubscription, LinkState } from './transport.js';
export type * from './types.js';
