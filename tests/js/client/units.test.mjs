// Unit tests of client/ logic that needs no server (node --test; run by tests/client/test_client_units.py):
// the Feed's rules with a history in memory, and the supabase-js transport's topic mapping,
// channel configuration and token handling — over the real supabase-js createClient pointed
// at a port nobody listens on (joins never complete, so only what happens before a server
// answers is checked here; delivery over Supabase needs the local Supabase Realtime server
// of issue 14).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createClient } from '@supabase/supabase-js';

import { Feed, clientIdOf, clientTopic, subject, supabaseOver, supabaseTopic } from '../../../client/dist/index.js';

const envelope = (id, prev, data = {}) => ({ id: String(id), type: 'note-added', at: '2026-11-30T00:00:00Z', data, prev: prev === null ? undefined : String(prev) });

function memoryHistory(events) {
  const calls = [];
  return {
    calls,
    async page(channel, { after, latest }) {
      calls.push({ after, latest });
      if (latest) return { channel, events: [], next: String(events.at(-1)?.id ?? 0), more: false };
      return { channel, events: events.filter((e) => BigInt(e.id) > BigInt(after)), next: '0', more: false };
    },
    async resolve(reference) {
      return events.find((e) => e.id === reference.id);
    },
  };
}

function feedOver(history, after) {
  const delivered = [];
  const feed = new Feed({
    channel: 'private-user-1',
    history,
    after,
    deliver: (e) => delivered.push(e.id),
    clientEvent: (event) => delivered.push(event),
    catchingUp: () => undefined,
    error: (error) => delivered.push(`error ${error}`),
  });
  return { feed, delivered };
}

test('duplicates and older events are dropped; order follows ids', async () => {
  const { feed, delivered } = feedOver(memoryHistory([]), '10');
  feed.receive('note-added', envelope(11, 10));
  feed.receive('note-added', envelope(11, 10));
  feed.receive('note-added', envelope(9, null));
  feed.receive('note-added', envelope(14, 11));
  await feed.catchUp();
  assert.deepEqual(delivered, ['11', '14']);
  assert.equal(feed.duplicates, 2);
});

test('an event whose prev was not delivered fills the gap from history first', async () => {
  const stored = [envelope(11, 10), envelope(13, 11), envelope(20, 13)];
  const history = memoryHistory(stored);
  const { feed, delivered } = feedOver(history, '10');
  feed.receive('note-added', stored[0]);
  feed.receive('note-added', stored[2]); // 13 never arrived live
  await feed.catchUp();
  assert.deepEqual(delivered, ['11', '13', '20']);
  assert.equal(feed.gaps, 1);
});

test('from now: the newest id is asked before subscribing, and ready waits for catch-up', async () => {
  const stored = [envelope(5, null), envelope(7, 5)];
  const history = memoryHistory(stored);
  const { feed, delivered } = feedOver(history, undefined);
  await feed.start();
  assert.equal(feed.last, 7n);
  stored.push(envelope(8, 7)); // published between start and the subscription
  let ready = false;
  feed.ready.then(() => (ready = true));
  await Promise.resolve();
  assert.equal(ready, false);
  await feed.catchUp();
  assert.equal(ready, true);
  assert.deepEqual(delivered, ['8']);
  assert.deepEqual(history.calls[0], { after: undefined, latest: true });
});

test('a reference is resolved before delivery; client events bypass the feed', async () => {
  const full = envelope(12, 11, { body: 'x'.repeat(20000) });
  const { feed, delivered } = feedOver(memoryHistory([full]), '11');
  feed.receive('note-added', { id: '12', type: 'note-added', at: full.at, prev: '11', ref: { channel: 'private-user-1', after: '11', url: '/x' } });
  feed.receive('client-typing', { userId: 'bob' });
  await feed.catchUp();
  assert.deepEqual(delivered, ['client-typing', '12']);
});

test('clientIdOf finds the clientId an event carries', () => {
  assert.equal(clientIdOf({ message: { clientId: 'm-1' } }), 'm-1');
  assert.equal(clientIdOf({ clientId: 'c' }), 'c');
  assert.equal(clientIdOf({ balance: 3 }), undefined);
});

test('Pusher channel names map to Supabase topics', () => {
  assert.deepEqual(supabaseTopic('private-user-42'), { topic: 'user-42', private: true, presence: false });
  assert.deepEqual(supabaseTopic('private-conversation-0b8c'), { topic: 'conversation-0b8c', private: true, presence: false });
  assert.deepEqual(supabaseTopic('presence-poker-0b8c'), { topic: 'poker-0b8c', private: true, presence: true });
  assert.deepEqual(supabaseTopic('presence-location-7'), { topic: 'location-7', private: true, presence: true });
  assert.deepEqual(supabaseTopic('room-1'), { topic: 'room-1', private: false, presence: false });
  assert.equal(clientTopic('private-conversation-0b8c'), 'client:conversation-0b8c');
  assert.throws(() => supabaseTopic('private-encrypted-user-1'));
});

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (sub) => `${b64({ alg: 'HS256' })}.${b64({ sub })}.sig`;

test('supabase-js: private channels, presence keyed by the token sub, a fresh token per join', async () => {
  const client = createClient('http://127.0.0.1:9', 'anon-key', { accessToken: async () => jwt('alice') });
  const auths = [];
  const setAuth = client.realtime.setAuth.bind(client.realtime);
  client.realtime.setAuth = (token) => {
    auths.push(token);
    return setAuth(token);
  };
  let minted = 0;
  const transport = supabaseOver(client, {}, async () => {
    minted += 1;
    return jwt('alice');
  });
  const user = transport.subscribe('private-user-alice', { message() {}, subscribed() {}, failed() {} });
  const room = transport.subscribe('presence-poker-0b8c', { message() {}, subscribed() {}, failed() {} });
  const chat = transport.subscribe('private-conversation-0b8c', { message() {}, subscribed() {}, failed() {}, clientEvents: true });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const byTopic = Object.fromEntries(client.getChannels().map((c) => [c.subTopic ?? c.topic.replace(/^realtime:/, ''), c.params.config]));
  assert.equal(byTopic['user-alice'].private, true);
  assert.equal(byTopic['poker-0b8c'].private, true);
  assert.equal(byTopic['poker-0b8c'].presence.key, 'alice');
  assert.equal(byTopic['conversation-0b8c'].private, true);
  assert.equal(byTopic['client:conversation-0b8c'].private, true);
  assert.ok(auths.filter((token) => token === jwt('alice')).length >= 4); // ours: one before each join
  assert.ok(minted >= 4);
  for (const s of [user, room, chat]) s.unsubscribe();
  transport.close();
});

test('subject reads the sub of a JWT', () => {
  assert.equal(subject(jwt('bob')), 'bob');
  assert.equal(subject('not a jwt'), '');
});
