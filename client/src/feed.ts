/**
 * One channel's delivery rules, whatever the transport:
 *
 * - dedupe: an event is delivered at most once (its envelope id);
 * - order: events are delivered in id order, one at a time (a chain of promises);
 * - gaps: an event whose `prev` is not the last delivered id means one was missed: history
 *   after the last delivered id fills it before anything newer is delivered;
 * - catch-up: on (re)subscribe, reconnect and tab-visible the feed reads history after the
 *   last delivered id; `ready` resolves after the first catch-up;
 * - references (envelopes over 10 KB) are fetched from their `ref.url` before delivery.
 *
 * Ids are compared as BigInt (outbox ids are Postgres bigints).
 */
import type { Envelope, HistoryPage, Reference } from './types.js';

export interface History {
  /** A page of the channel's history after `after` (`latest`: no events, `next` = newest). */
  page(channel: string, query: { after?: string; latest?: boolean; limit?: number }): Promise<HistoryPage>;
  /** A reference's full envelope. */
  resolve(reference: Reference): Promise<Envelope>;
}

export interface FeedOptions {
  channel: string;
  history: History;
  deliver(envelope: Envelope): void;
  clientEvent(event: string, data: unknown): void;
  /** Start after this event id; absent: from now (the channel's newest id at subscribe time). */
  after?: string;
  /** True while catching up, false after (the connection badge's "catching up"). */
  catchingUp(active: boolean): void;
  error(error: unknown): void;
}

const RETRY_MS = [500, 1_000, 2_000, 5_000, 10_000, 30_000];

export class Feed {
  /** The last delivered id (null until the starting point is known). */
  last: bigint | null;
  private chain: Promise<void> = Promise.resolve();
  private readyResolve!: () => void;
  private closed = false;
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly ready: Promise<void>;
  /** Events delivered (dedupe counts, for tests and the badge). */
  delivered = 0;
  duplicates = 0;
  gaps = 0;

  constructor(private readonly options: FeedOptions) {
    this.last = options.after === undefined ? null : BigInt(options.after);
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  /** A message from the transport: queued behind everything before it. */
  receive(event: string, data: unknown): void {
    if (event.startsWith('client-')) {
      this.options.clientEvent(event, data);
      return;
    }
    if (!isEnvelope(data)) return; // not ours (a provider's own event)
    this.enqueue(() => this.live(data));
  }

  /** Before subscribing: a feed that starts "from now" asks for the channel's newest id, so
   * an event published between this and the subscription is caught up, not skipped. */
  start(): Promise<void> {
    return this.enqueue(async () => {
      if (this.last === null) await this.baseline();
    });
  }

  /** Read history after the last delivered id; on subscribe, reconnect, tab visible. */
  catchUp(): Promise<void> {
    return this.enqueue(() => this.fill());
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step, step);
    this.chain = next.catch((error: unknown) => this.options.error(error));
    return this.chain;
  }

  private async live(envelope: Envelope | Reference): Promise<void> {
    if (this.closed) return;
    const id = BigInt(envelope.id);
    if (this.last !== null && id <= this.last) {
      this.duplicates += 1;
      return;
    }
    const prev = envelope.prev == null ? null : BigInt(envelope.prev);
    if (this.last !== null && prev !== null && prev > this.last) {
      // Missed at least the event `prev`: history has it and this one, in order.
      this.gaps += 1;
      await this.fill();
      if (this.last !== null && id <= this.last) return;
    }
    await this.deliver(envelope);
  }

  private async deliver(envelope: Envelope | Reference): Promise<void> {
    const full = 'ref' in envelope ? await this.options.history.resolve(envelope) : envelope;
    const id = BigInt(full.id);
    if (this.last !== null && id <= this.last) return;
    this.last = id;
    this.delivered += 1;
    this.options.deliver(full);
  }

  private async fill(): Promise<void> {
    if (this.closed) return;
    const { history, channel } = this.options;
    this.options.catchingUp(true);
    try {
      if (this.last === null) await this.baseline();
      for (;;) {
        const after = (this.last ?? 0n).toString();
        const page = await history.page(channel, { after, limit: 200 });
        for (const envelope of page.events) await this.deliver(envelope);
        if (!page.more || page.events.length === 0) break;
      }
      this.retries = 0;
      this.readyResolve();
    } catch (error) {
      this.scheduleRetry();
      throw error;
    } finally {
      this.options.catchingUp(false);
    }
  }

  private async baseline(): Promise<void> {
    const start = await this.options.history.page(this.options.channel, { latest: true });
    if (this.last === null) this.last = BigInt(start.next);
  }

  /** A failed catch-up (network, expired token) is retried with backoff until one works. */
  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    const delay = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
    this.retries += 1;
    this.retryTimer = setTimeout(() => void this.catchUp(), delay);
  }
}

function isEnvelope(value: unknown): value is Envelope | Reference {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.id === 'string' && /^[0-9]+$/.test(record.id) && typeof record.type === 'string';
}
