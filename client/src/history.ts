/**
 * The history endpoint (GET {baseUrl}/api/realtime/history, lib/realtime/history.py) with a
 * fresh token on every call: what feeds catch up from and where references are fetched.
 */
import type { History } from './feed.js';
import type { Envelope, HistoryPage, Reference, TokenSource } from './types.js';

export class HistoryError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'HistoryError';
  }
}

export function historyClient(baseUrl: string, getToken: TokenSource, fetcher: typeof fetch): History {
  async function get(path: string): Promise<HistoryPage> {
    const token = await getToken();
    const response = await fetcher(`${baseUrl}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const body = (await response.json().catch(() => null)) as
      | (HistoryPage & { error?: { code?: string; message?: string } })
      | null;
    if (!response.ok || body === null || !Array.isArray(body.events)) {
      const code = body?.error?.code;
      throw new HistoryError(body?.error?.message ?? `history: HTTP ${response.status}`, response.status, code);
    }
    return body;
  }
  return {
    page(channel, { after, latest, limit }) {
      const query = new URLSearchParams({ channel });
      if (after !== undefined) query.set('after', after);
      if (latest) query.set('latest', '1');
      if (limit !== undefined) query.set('limit', String(limit));
      return get(`/api/realtime/history?${query}`);
    },
    async resolve(reference: Reference): Promise<Envelope> {
      const page = await get(reference.ref.url);
      const found = page.events.find((event) => event.id === reference.id);
      if (!found) throw new HistoryError(`event ${reference.id} is no longer in history`, 404, 'NOT_FOUND');
      return found;
    },
  };
}
