/**
 * The shapes on the wire (lib/events.py) and the typing that turns the generated event map
 * (`make types` -> types/generated/api.ts, `ChannelEvents`) into typed handlers.
 */

/** What every server event's data is: an envelope. `prev` names the previous event on the
 * channel, so a client can tell it missed one (ids are global, never contiguous). */
export interface Envelope<T extends string = string, D = unknown> {
  id: string;
  type: T;
  at: string;
  data: D;
  prev?: string | null;
}

/** An envelope over 10 KB, published as a pointer to the history endpoint. */
export interface Reference {
  id: string;
  type: string;
  at: string;
  prev?: string | null;
  ref: { channel: string; after: string; url: string };
}

/** A history page (GET /api/realtime/history). */
export interface HistoryPage {
  channel: string;
  events: Envelope[];
  next: string;
  more: boolean;
}

/** Channel-name prefix -> (event name -> data): the generated `ChannelEvents` (an
 * interface, so no index signature: any object type fits). */
export type EventMap = object;

/** The events of channel `C` under map `M`: the family whose prefix `C` starts with. */
export type EventsFor<M extends EventMap, C extends string> = {
  [P in keyof M & string]: C extends `${P}${string}` ? M[P] : never;
}[keyof M & string];

/** A channel name of a family in `M`. */
export type ChannelOf<M extends EventMap> = `${keyof M & string}${string}`;

/** Server events: every name except Pusher-style client events (`client-*`). */
export type ServerEvents<E> = { [K in keyof E as K extends `client-${string}` ? never : K]: E[K] };
/** Client events (`client-typing`): sent by members' browsers, not kept in history. */
export type ClientEvents<E> = { [K in keyof E as K extends `client-${string}` ? K : never]: E[K] };

/** One handler per event name: a server event's data and its envelope; a client event's
 * data (client events have no envelope: no id, not in history). */
export type Handlers<E> = {
  [K in keyof E & string]?: K extends `client-${string}`
    ? (data: E[K]) => void
    : (data: E[K], envelope: Envelope<K, E[K]>) => void;
};

/** A presence member (Pusher's `{id, info}`; Supabase's presence key and its payload). */
export interface Member {
  id: string;
  info: unknown;
}

/** live: subscribed and caught up; catching-up: reading history; offline: no connection. */
export type ConnectionState = 'connecting' | 'live' | 'catching-up' | 'offline';

export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;
