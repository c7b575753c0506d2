/**
 * The port between the realtime layer and a provider's SDK: subscribe to a channel (Pusher
 * form names; a transport maps them), get its messages, know when a subscription is (again)
 * in place, send client events. pusher.ts and supabase.ts are the two adapters; the Feed
 * (feed.ts) does everything that makes delivery exact, so an adapter stays thin.
 */
import type { Member } from './types.js';

export type LinkState = 'connecting' | 'connected' | 'offline';

export interface TransportHandlers {
  /** A message on the channel: a server event's envelope, or a client event's data. */
  message(event: string, data: unknown): void;
  /** The subscription is in place: the first time, and again after every reconnect. */
  subscribed(): void;
  /** Subscribing failed (authorization refused, ...); the transport may retry later. */
  failed(error: Error): void;
  /** The presence members, whenever they change (presence channels only). */
  members?(members: Member[]): void;
  /** The subscriber handles client events (`client-*`): Supabase needs a second topic. */
  clientEvents?: boolean;
}

export interface TransportSubscription {
  /** Send a client event (`client-typing`) to the channel's other members. */
  trigger(event: string, data: unknown): Promise<void>;
  unsubscribe(): void;
}

export interface Transport {
  readonly state: LinkState;
  onState(listener: (state: LinkState) => void): () => void;
  subscribe(channel: string, handlers: TransportHandlers): TransportSubscription;
  /** Drop the connection (and keep it down until connect()). */
  disconnect(): void;
  /** Connect again; every channel resubscribes, and so catches up. */
  connect(): void;
  close(): void;
}
