/**
 * Who the demo user is. Locally (`make dev`) the page asks the stack's dev-only
 * `POST /_dev/token` for a token as a seeded user (alice, bob, carol) or a new one, and asks
 * again before it expires — the same "getToken() every time" a Clerk front end does. In a
 * deployment there is no such route: paste a token from your Clerk or Supabase Auth front end.
 */
import { $, escape } from './dom';

interface Stored {
  sub: string;
  token: string;
  expiresAt: number;
  ttl: number;
  dev: boolean;
}

const KEY = 'sockless-demo-session';
const REFRESH_BEFORE_S = 10;

function load(): Stored | null {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? 'null') as Stored | null;
  } catch {
    return null;
  }
}

async function mint(sub: string, ttl: number): Promise<Stored> {
  const response = await fetch('/_dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub, ttl }),
  });
  if (!response.ok) throw new Error(`no local token (${response.status}): sign in with a pasted token`);
  const body = (await response.json()) as { token: string; expiresAt: number };
  const stored = { sub, token: body.token, expiresAt: body.expiresAt, ttl, dev: true };
  localStorage.setItem(KEY, JSON.stringify(stored));
  return stored;
}

export const session = {
  current: load,
  /** A token that is not about to expire (a new one when it is). */
  async token(): Promise<string | null> {
    const stored = load();
    if (!stored) return null;
    const margin = Math.min(REFRESH_BEFORE_S, stored.ttl / 3);
    if (stored.dev && stored.expiresAt - Date.now() / 1000 < margin) {
      return (await mint(stored.sub, stored.ttl)).token;
    }
    return stored.token;
  },
  signOut(): void {
    localStorage.removeItem(KEY);
  },
};

export function signInPage(main: HTMLElement, done: () => void): void {
  const ttl = Number(new URLSearchParams(location.search).get('ttl')) || 3600;
  main.innerHTML = `<h2>Sign in</h2>
    <form id="signin" class="row">
      <div><label for="user">User id</label>
      <input id="user" list="seeded" required autocomplete="username" pattern="[A-Za-z0-9_.@-]{1,64}" aria-describedby="user-help">
      <datalist id="seeded"><option value="alice"><option value="bob"><option value="carol"></datalist></div>
      <button>Sign in</button>
    </form>
    <p id="user-help" class="muted">A seeded local user (alice, bob, carol) or any new id. Local tokens exist only under <code>make dev</code>.</p>
    <form id="paste" class="row">
      <div><label for="token">Or paste a token (Clerk or Supabase Auth)</label><input id="token" size="50"></div>
      <button class="secondary">Use token</button>
    </form>
    <p id="signin-error" role="alert"></p>`;
  $('#signin', main).addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await mint(($('#user', main) as HTMLInputElement).value.trim(), ttl);
      done();
    } catch (error) {
      $('#signin-error', main).textContent = (error as Error).message;
    }
  });
  $('#paste', main).addEventListener('submit', (event) => {
    event.preventDefault();
    const token = ($('#token', main) as HTMLInputElement).value.trim();
    let sub = '';
    try {
      sub = (JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub: string }).sub;
    } catch {
      $('#signin-error', main).textContent = 'That is not a JWT.';
      return;
    }
    localStorage.setItem(KEY, JSON.stringify({ sub, token, expiresAt: 0, ttl: 0, dev: false }));
    $('#signin-error', main).textContent = `Signed in as ${escape(sub)}.`;
    done();
  });
  ($('#user', main) as HTMLInputElement).focus();
}
