/**
 * Optimistic sends. `send(mutation, input, {clientId})` shows a temporary item at once and
 * calls the mutation with the clientId; the server stores the clientId with the result and
 * puts it in the event it publishes (`new-message` carries `message.clientId`). The first of
 * "the mutation answered" and "the event arrived" settles the item: the event removes it (the
 * real item, from the event handler, takes its place); a failed mutation marks it failed, and
 * `retry()` sends it again with the same clientId (the server stores it once).
 */

export type PendingStatus = 'sending' | 'sent' | 'failed';

export interface Pending<I = unknown, O = unknown> {
  readonly clientId: string;
  readonly input: I;
  readonly status: PendingStatus;
  readonly error?: unknown;
  /** The mutation's answer (rejects when it failed). */
  readonly result: Promise<O>;
  /** Send again (same clientId: a retry the server dedupes). */
  retry(): Pending<I, O>;
}

type Listener = (items: readonly Pending[]) => void;

export class Optimistic {
  private readonly items = new Map<string, Pending>();
  private readonly listeners = new Set<Listener>();

  /** The items not yet replaced by their server event, oldest first. */
  get pending(): readonly Pending[] {
    return [...this.items.values()];
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.pending);
    return () => this.listeners.delete(listener);
  }

  send<I extends { clientId: string }, O>(
    mutation: (input: I) => Promise<O>,
    input: Omit<I, 'clientId'>,
    options: { clientId?: string } = {},
  ): Pending<I, O> {
    const clientId = options.clientId ?? newClientId();
    const full = { ...input, clientId } as I;
    const item: { -readonly [K in keyof Pending<I, O>]: Pending<I, O>[K] } = {
      clientId,
      input: full,
      status: 'sending',
      error: undefined,
      result: Promise.resolve() as Promise<O>,
      retry: () => this.send(mutation, input, { clientId }),
    };
    item.result = mutation(full).then(
      (output) => {
        if (this.items.get(clientId) === item) this.set(clientId, { ...item, status: 'sent' });
        return output;
      },
      (error: unknown) => {
        if (this.items.get(clientId) === item || this.items.get(clientId)?.status === 'sending') {
          this.set(clientId, { ...item, status: 'failed', error });
        }
        throw error;
      },
    );
    item.result.catch(() => undefined); // the failed item reports it; no unhandled rejection
    this.set(clientId, item);
    return item;
  }

  /** A server event arrived for `clientId`: its real item replaces the temporary one. */
  confirm(clientId: string): void {
    if (this.items.delete(clientId)) this.emit();
  }

  /** Forget a failed item (the user dismissed it). */
  discard(clientId: string): void {
    this.confirm(clientId);
  }

  private set(clientId: string, item: Pending): void {
    this.items.set(clientId, item);
    this.emit();
  }

  private emit(): void {
    const items = this.pending;
    for (const listener of this.listeners) listener(items);
  }
}

/** The clientId an event's data carries (`data.clientId`, or one level down: `data.message.clientId`). */
export function clientIdOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  if (typeof record.clientId === 'string') return record.clientId;
  for (const value of Object.values(record)) {
    if (typeof value === 'object' && value !== null) {
      const inner = (value as Record<string, unknown>).clientId;
      if (typeof inner === 'string') return inner;
    }
  }
  return undefined;
}

function newClientId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return crypto?.randomUUID?.() ?? `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
