/**
 * The realtime handle: subscriptions over one transport, each with its Feed (feed.ts), and
 * the connection state a badge shows. Catch-up runs on every (re)subscription the transport
 * reports (a reconnect resubscribes), when the tab becomes visible again and when the
 * browser comes back online (going offline drops the connection at once).
 */
import { Feed, type History } from './feed.js';
import type { Transport, TransportSubscription } from './transport.js';
import type {
  ChannelOf,
  ClientEvents,
  ConnectionState,
  Envelope,
  EventMap,
  EventsFor,
  Handlers,
  Member,
} from './types.js';

export interface SubscribeOptions {
  /** Start after this event id (e.g. the id your snapshot query ended at); default: now. */
  after?: string;
  /** Presence channels: the members whenever they change. */
  members?(members: Member[]): void;
  /** A subscription or catch-up error (they are retried; this is for logging). */
  error?(error: unknown): void;
}

export interface Subscription<E> {
  readonly channel: string;
  /** Resolves once subscribed and caught up: events from here on are complete. */
  readonly ready: Promise<void>;
  /** The last delivered event id (null before the first). */
  readonly lastId: string | null;
  readonly members: readonly Member[];
  /** Send a client event to the other members (`client-typing`). */
  trigger<K extends keyof ClientEvents<E> & string>(event: K, data: ClientEvents<E>[K]): Promise<void>;
  /** Read history now (also done on reconnect and tab-visible). */
  catchUp(): Promise<void>;
  unsubscribe(): void;
  /** Counters: events delivered, duplicates dropped, gaps filled from history. */
  readonly stats: { delivered: number; duplicates: number; gaps: number };
}

type Listener = (state: ConnectionState) => void;

export class Realtime<M extends EventMap> {
  private readonly feeds = new Set<Feed>();
  private readonly listeners = new Set<Listener>();
  private catching = 0;
  private current: ConnectionState = 'connecting';
  private transport: Transport | undefined;
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly opening: Promise<Transport>,
    private readonly history: History,
    private readonly onEvent?: (channel: string, envelope: Envelope) => void,
  ) {
    opening.then(
      (transport) => {
        this.transport = transport;
        this.detach.push(transport.onState(() => this.update()));
        this.update();
      },
      () => this.update('offline'),
    );
    const again = () => this.catchUpAll();
    const doc = (globalThis as { document?: Document }).document;
    if (doc) {
      const visible = () => {
        if (doc.visibilityState === 'visible') again();
      };
      doc.addEventListener('visibilitychange', visible);
      this.detach.push(() => doc.removeEventListener('visibilitychange', visible));
    }
    const win = (globalThis as { window?: Window }).window;
    if (win?.addEventListener) {
      // The browser knows first: a socket can look open for a pong timeout (~30 s) after
      // the network went away. Offline -> drop it now; online -> connect, resubscribe and
      // catch up (every subscription hears `subscribed` again).
      const offline = () => this.disconnect();
      const online = () => {
        this.connect();
        again();
      };
      win.addEventListener('offline', offline);
      win.addEventListener('online', online);
      this.detach.push(() => {
        win.removeEventListener('offline', offline);
        win.removeEventListener('online', online);
      });
    }
  }

  /** live / catching-up / offline / connecting. */
  get state(): ConnectionState {
    return this.current;
  }

  onState(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }

  subscribe<C extends ChannelOf<M>>(
    channel: C,
    handlers: Handlers<EventsFor<M, C>>,
    options: SubscribeOptions = {},
  ): Subscription<EventsFor<M, C>> {
    let members: Member[] = [];
    const call = handlers as Record<string, ((data: unknown, envelope?: Envelope) => void) | undefined>;
    const feed = new Feed({
      channel,
      history: this.history,
      after: options.after,
      deliver: (envelope) => {
        this.onEvent?.(channel, envelope);
        call[envelope.type]?.(envelope.data, envelope);
      },
      clientEvent: (event, data) => call[event]?.(data),
      catchingUp: (active) => {
        this.catching += active ? 1 : -1;
        this.update();
      },
      error: (error) => options.error?.(error),
    });
    this.feeds.add(feed);
    let link: TransportSubscription | undefined;
    let closed = false;
    const started = feed.start().then(() => this.opening);
    started.then(
      (transport) => {
        if (closed) return;
        link = transport.subscribe(channel, {
          message: (event, data) => feed.receive(event, data),
          subscribed: () => void feed.catchUp(),
          failed: (error) => options.error?.(error),
          clientEvents: Object.keys(handlers).some((name) => name.startsWith('client-')),
          members: (list) => {
            members = list;
            options.members?.(list);
          },
        });
      },
      (error: unknown) => options.error?.(error),
    );
    return {
      channel,
      ready: feed.ready,
      get lastId() {
        return feed.last === null ? null : feed.last.toString();
      },
      get members() {
        return members;
      },
      async trigger(event, data) {
        await started;
        await feed.ready; // Pusher drops client events on a channel not yet subscribed
        if (!link) throw new Error(`not subscribed to ${channel}`);
        await link.trigger(event, data);
      },
      catchUp: () => feed.catchUp(),
      unsubscribe: () => {
        closed = true;
        feed.close();
        this.feeds.delete(feed);
        link?.unsubscribe();
      },
      get stats() {
        return { delivered: feed.delivered, duplicates: feed.duplicates, gaps: feed.gaps };
      },
    };
  }

  /** Go offline (a "pause" button; tests). Events meanwhile are caught up on connect(). */
  disconnect(): void {
    this.transport?.disconnect();
  }

  /** Connect again: every subscription resubscribes and catches up. */
  connect(): void {
    this.transport?.connect();
  }

  close(): void {
    for (const feed of this.feeds) feed.close();
    this.feeds.clear();
    for (const undo of this.detach.splice(0)) undo();
    this.transport?.close();
  }

  private catchUpAll(): void {
    for (const feed of this.feeds) void feed.catchUp();
  }

  private update(forced?: ConnectionState): void {
    const link = this.transport?.state;
    const next: ConnectionState =
      forced ??
      (link === 'offline'
        ? 'offline'
        : link === 'connected'
          ? this.catching > 0
            ? 'catching-up'
            : 'live'
          : this.catching > 0
            ? 'catching-up'
            : 'connecting');
    if (next === this.current) return;
    this.current = next;
    for (const listener of this.listeners) listener(next);
  }
}
