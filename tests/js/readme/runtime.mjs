// The app around a README snippet when it runs in Node against the local stack
// (tests/test_readme_snippets.py): UI functions print their calls as JSON lines, getToken()
// mints a fresh local token (like dev/token.py) every time.
import { createHmac, randomUUID } from 'node:crypto';

const print = (value) => process.stdout.write(JSON.stringify(value) + '\n');
const seen = new Set();
const waiting = new Map();
const ui = [
  'setBadge', 'markVoted', 'showCards', 'setEstimate', 'setReadOnly', 'showAvatars', 'setUnread',
  'upsertById', 'setReadPosition', 'showTyping', 'renderPending', 'showToast', 'addMessage',
  'setRevenue', 'markFailed', 'upsert',
];
for (const name of ui) {
  globalThis[name] = (...args) => {
    print({ call: name, args });
    seen.add(name);
    waiting.get(name)?.();
  };
}
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
globalThis.getToken = async () => {
  const now = Math.floor(Date.now() / 1000);
  const sub = process.env.SNIPPET_USER;
  const claims = { iss: 'supabase-local', aud: 'authenticated', sub, role: 'authenticated', iat: now, exp: now + 60, session_id: randomUUID(), email: `${sub}@example.test` };
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', process.env.SNIPPET_JWT_SECRET).update(head).digest('base64url')}`;
};
globalThis.myUserId = process.env.SNIPPET_USER;
globalThis.otherUserId = process.env.SNIPPET_OTHER;
/** Resolves once the UI function `name` has been called (the snippet's last event arrived). */
globalThis.__until = (name) => (seen.has(name) ? Promise.resolve() : new Promise((resolve) => waiting.set(name, resolve)));
setTimeout(() => {
  print({ error: 'timed out' });
  process.exit(3);
}, 30000).unref();
