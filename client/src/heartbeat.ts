/**
 * "I am online" in Supabase mode. Pusher tells the backend who is connected through its
 * presence webhooks; hosted Supabase Realtime has none and the backend holds no socket, so
 * the client says it: `messaging.heartbeat` every 30 s while the connection is up (each beat
 * counts for 90 s, migration 20261130900100), and `{online: false}` when the page goes away
 * (best effort). Offline notifications then work the same in both modes (docs/realtime.md).
 */
import type { ConnectionState, TokenSource } from './types.js';

export const HEARTBEAT_MS = 30_000;

export interface HeartbeatOptions {
  /** The tRPC endpoint (`${baseUrl}/api/trpc`). */
  url: string;
  getToken: TokenSource;
  fetch: typeof fetch;
  /** The realtime handle's state, and changes to it. */
  onState(listener: (state: ConnectionState) => void): () => void;
}

/** Starts beating; returns the stop function (which says "offline", best effort). */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  let timer: ReturnType<typeof setInterval> | undefined;
  const beat = async (online: boolean) => {
    const token = await options.getToken();
    if (!token) return;
    await options.fetch(`${options.url}/messaging.heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ online }),
      keepalive: true, // a pagehide beat still leaves
    });
  };
  const quietly = (online: boolean) => void beat(online).catch(() => undefined);
  const stopWatching = options.onState((state) => {
    const up = state === 'live' || state === 'catching-up';
    if (up && timer === undefined) {
      quietly(true);
      timer = setInterval(() => quietly(true), HEARTBEAT_MS);
    } else if (!up && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  });
  const win = (globalThis as { window?: Window }).window;
  const leave = () => quietly(false);
  win?.addEventListener?.('pagehide', leave);
  return () => {
    stopWatching();
    win?.removeEventListener?.('pagehide', leave);
    if (timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
      quietly(false);
    }
  };
}
