// The Sockless demo app (served from public/, bundled by demo/build.mjs): every page is built
// on client/ — typed tRPC calls, and realtime subscriptions that dedupe, keep order and catch
// up after a disconnect or a hidden tab. No framework: small render functions over the DOM.
import { createSockless, type Pending, type Sockless, type Subscription } from '@sockless/client';

import type { AppRouter, ChannelEvents, PokerSession, TradingPosition, UserChannelEvents } from '../types/generated/trpc';
import { session as auth, signInPage } from './auth';
import { escape, $, toast } from './dom';

type App = Sockless<AppRouter, ChannelEvents>;
type UserEvent = keyof UserChannelEvents;
type Listener<K extends UserEvent> = (data: UserChannelEvents[K]) => void;

interface Config {
  provider: 'pusher' | 'supabase';
  pusher: { key: string; cluster?: string; wsHost?: string; wsPort?: number };
  supabase: { url: string; anonKey: string };
}

const USER_EVENTS: UserEvent[] = [
  'unread-update', 'conversation-added', 'billing-updated', 'call-ended', 'position-update',
  'order-update', 'balance-update', 'fill', 'connection-status', 'new-message', 'payment-received',
  'payment-failed', 'lead-alert', 'appointment-update', 'task-update', 'appointment-reminder',
  'message-failed', 'quote-viewed', 'project-update',
];

let app: App;
let me = '';
/** The user's channel is subscribed and caught up: a page that registers its listeners, then
 * awaits this, then queries its snapshot misses nothing in between. */
let userReady: Promise<void> = Promise.resolve();
const listeners = new Map<UserEvent, Set<(data: never) => void>>();
let cleanup: Array<() => void> = [];

/** Listen to an event on the signed-in user's channel while the current page is shown. */
function onUser<K extends UserEvent>(event: K, listener: Listener<K>): void {
  const set = listeners.get(event) ?? new Set();
  listeners.set(event, set);
  set.add(listener as (data: never) => void);
  cleanup.push(() => set.delete(listener as (data: never) => void));
}

async function loadConfig(): Promise<Config> {
  const dev = await fetch('/_dev/config').catch(() => null);
  if (dev?.ok) return (await dev.json()) as Config;
  return (await (await fetch('/config.json')).json()) as Config;
}

async function start(): Promise<void> {
  const main = $('#main');
  if (!auth.current()) {
    signInPage(main, () => void start());
    return;
  }
  const config = await loadConfig();
  me = auth.current()!.sub;
  $('#who').textContent = `signed in as ${me}`;
  app = createSockless<AppRouter, ChannelEvents>({
    baseUrl: '',
    getToken: () => auth.token(),
    realtime:
      config.provider === 'supabase'
        ? { provider: 'supabase', ...config.supabase }
        : config.pusher.wsHost
          ? { provider: 'pusher', key: config.pusher.key, wsHost: config.pusher.wsHost, wsPort: config.pusher.wsPort, forceTLS: false }
          : { provider: 'pusher', key: config.pusher.key, cluster: config.pusher.cluster ?? 'eu' },
  });
  (window as unknown as { sockless: App }).sockless = app; // for the browser tests and the console
  const badge = $('#badge');
  app.realtime.onState((state) => {
    badge.dataset.state = state;
    badge.textContent = state === 'catching-up' ? 'catching up' : state;
  });
  const handlers: Record<string, (data: never) => void> = {};
  for (const event of USER_EVENTS) {
    handlers[event] = (data: never) => {
      for (const listener of listeners.get(event) ?? []) listener(data);
    };
  }
  userReady = app.realtime.subscribe(`private-user-${me}`, handlers).ready;
  window.addEventListener('hashchange', route);
  route();
}

const PAGES: Record<string, (main: HTMLElement) => Promise<void>> = {
  poker: pokerPage,
  chat: chatPage,
  crm: crmPage,
  positions: positionsPage,
  billing: billingPage,
  calls: callsPage,
};

function route(): void {
  for (const undo of cleanup.splice(0)) undo();
  const fallback = new URLSearchParams(location.search).has('checkout') ? 'billing' : 'poker'; // back from Stripe
  const [name = fallback, arg] = (location.hash.slice(1) || fallback).split('/');
  const page = PAGES[name] ?? pokerPage;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.getAttribute('href') === `#${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const main = $('#main');
  main.dataset.arg = arg ?? '';
  delete main.dataset.live;
  page(main).then(
    () => main.focus(),
    (error: unknown) => {
      main.innerHTML = `<h2>Something went wrong</h2><p role="alert">${escape(String((error as Error).message ?? error))}</p>`;
    },
  );
}

// -- poker ----------------------------------------------------------------------------------

async function pokerPage(main: HTMLElement): Promise<void> {
  const sessionId = main.dataset.arg;
  if (!sessionId) {
    main.innerHTML = `<h2>Planning poker</h2>
      <form id="create" class="row"><div><label for="name">Session name</label><input id="name" required value="Sprint planning"></div>
      <div><label for="task">First task</label><input id="task" value="Login page"></div><button>Create session</button></form>
      <form id="join" class="row"><div><label for="sid">Session id</label><input id="sid" required size="38"></div><button class="secondary">Join</button></form>
      <p id="poker-error" role="alert"></p>`;
    $('#create', main).addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const name = ($('#name', main) as HTMLInputElement).value;
        const task = ($('#task', main) as HTMLInputElement).value;
        const { session } = await app.trpc.poker.create.mutate({ name, tasks: task ? [task] : [] });
        location.hash = `poker/${session.id}`;
      } catch (error) {
        $('#poker-error', main).textContent = (error as Error).message;
      }
    });
    $('#join', main).addEventListener('submit', (event) => {
      event.preventDefault();
      location.hash = `poker/${($('#sid', main) as HTMLInputElement).value.trim()}`;
    });
    return;
  }
  await app.trpc.poker.join.mutate({ sessionId });
  let session = await app.trpc.poker.get.query({ sessionId });
  let online: string[] = [];
  let estimate: string | undefined; // the facilitator's pick survives re-renders
  const refresh = async () => {
    session = await app.trpc.poker.get.query({ sessionId });
    render();
  };
  const room: Subscription<ChannelEvents['presence-poker-']> = app.realtime.subscribe(
    `presence-poker-${sessionId}`,
    {
      'member-joined': () => void refresh(),
      'member-left': () => void refresh(),
      'task-added': () => void refresh(),
      'task-started': () => void refresh(),
      vote: () => void refresh(),
      'votes-revealed': () => void refresh(),
      'task-finalized': (done) => {
        toast(`Estimate recorded: ${done.estimate}`);
        void refresh();
      },
      'session-ended': () => void refresh(),
    },
    { members: (members) => ((online = members.map((m) => m.id)), render()) },
  );
  cleanup.push(() => room.unsubscribe());

  function render(): void {
    const facilitator = session.me.facilitator;
    const task = session.tasks.find((t) => t.status === 'voting' || t.status === 'revealed') ?? session.tasks.find((t) => t.status === 'pending');
    main.innerHTML = `<h2>${escape(session.name)}</h2>
      <p class="muted">Session <code id="session-id">${escape(session.id)}</code> · share it to invite · ${session.status}</p>
      <h3>In the room</h3>
      <ul class="avatars" aria-label="Members online">${online.map((id) => `<li title="${escape(id)}" aria-label="${escape(id)}">${escape(id.slice(0, 2).toUpperCase())}</li>`).join('')}</ul>
      ${taskView(session, task, facilitator, estimate)}
      ${facilitator && session.status === 'open' ? `<form id="add" class="row"><div><label for="title">New task</label><input id="title" required></div><button class="secondary">Add task</button></form>
        <p><button id="end" class="secondary">End session</button></p>` : ''}
      <h3>Tasks</h3><ol>${session.tasks.map((t) => `<li>${escape(t.title)} — ${t.status}${t.estimate ? ` (estimate ${escape(t.estimate)})` : ''}</li>`).join('')}</ol>`;
    wire(task?.id);
  }

  function wire(taskId: string | undefined): void {
    const act = (selector: string, run: () => Promise<unknown>) =>
      main.querySelector(selector)?.addEventListener('click', () => void run().then(refresh, (e: Error) => toast(e.message)));
    if (taskId) {
      act('#start', () => app.trpc.poker.startTask.mutate({ taskId }));
      act('#reveal', () => app.trpc.poker.reveal.mutate({ taskId }));
      main.querySelector('#estimate')?.addEventListener('change', (event) => (estimate = (event.target as HTMLSelectElement).value));
      act('#finalize', () => app.trpc.poker.finalize.mutate({ taskId, estimate: ($('#estimate', main) as HTMLSelectElement).value }));
      for (const card of main.querySelectorAll<HTMLButtonElement>('.cards button')) {
        card.addEventListener('click', () => void app.trpc.poker.vote.mutate({ taskId, value: card.value }).then(refresh, (e: Error) => toast(e.message)));
      }
    }
    act('#end', () => app.trpc.poker.end.mutate({ sessionId: session.id }));
    main.querySelector('#add')?.addEventListener('submit', (event) => {
      event.preventDefault();
      const title = ($('#title', main) as HTMLInputElement).value;
      void app.trpc.poker.addTask.mutate({ sessionId: session.id, title }).then(refresh, (e: Error) => toast(e.message));
    });
  }
}

function taskView(
  session: PokerSession,
  task: PokerSession['tasks'][number] | undefined,
  facilitator: boolean,
  estimate: string | undefined,
): string {
  if (!task) return '<p>No open task.</p>';
  const mine = task.votes.find((v) => v.userId === session.me.userId)?.value ?? null;
  const votes = `<ul class="votes" aria-label="Votes">${task.votes
    .map((v) => `<li data-user="${escape(v.userId)}">${escape(v.userId)}: ${v.value === null ? '<span class="card-back" role="img" aria-label="voted, card hidden"></span>' : `<strong>${escape(v.value)}</strong>`}</li>`)
    .join('')}</ul>`;
  const stats = task.stats
    ? `<p id="stats">Average ${task.stats.average ?? '—'} · median ${task.stats.median ?? '—'} · ${task.stats.consensus ? 'consensus' : 'no consensus'} (${task.stats.votes} votes)</p>`
    : '';
  const controls =
    task.status === 'pending'
      ? facilitator ? '<button id="start">Start voting</button>' : '<p>Waiting for the facilitator to start voting.</p>'
      : task.status === 'voting'
        ? `<div class="cards" role="group" aria-label="Your card">${session.deck.values
            .map((value) => `<button value="${escape(value)}" aria-pressed="${value === mine}">${escape(value)}</button>`)
            .join('')}</div>${facilitator ? '<p><button id="reveal">Reveal</button></p>' : ''}`
        : facilitator && task.status === 'revealed'
          ? `<div class="row"><div><label for="estimate">Estimate</label><select id="estimate">${session.deck.values.map((v) => `<option${v === estimate ? ' selected' : ''}>${escape(v)}</option>`).join('')}</select></div><button id="finalize">Finalize</button></div>`
          : '';
  return `<section aria-labelledby="task-title"><h3 id="task-title">${escape(task.title)} <span class="muted">(${task.status})</span></h3>${votes}${stats}${controls}</section>`;
}

// -- chat -----------------------------------------------------------------------------------

async function chatPage(main: HTMLElement): Promise<void> {
  const conversationId = main.dataset.arg;
  const { conversations } = await app.trpc.messaging.conversations.query({});
  const unread = new Map(conversations.map((c) => [c.id, c.unread]));
  const list = () =>
    conversations
      .map((c) => `<li><a href="#chat/${c.id}">${escape(c.title || c.participants.map((p) => p.userId).filter((id) => id !== me).join(', '))}</a>${(unread.get(c.id) ?? 0) > 0 ? `<span class="unread" aria-label="${unread.get(c.id)} unread">${unread.get(c.id)}</span>` : ''}</li>`)
      .join('');
  main.innerHTML = `<h2>Chat</h2>
    <nav aria-label="Conversations"><ul id="conversations">${list()}</ul></nav>
    <form id="new" class="row"><div><label for="with">New conversation with (user id)</label><input id="with" required></div><button class="secondary">Start</button></form>
    <section id="conversation"></section>`;
  onUser('unread-update', (update) => {
    unread.set(update.conversationId, 'unread' in update ? update.unread : update.unreadCount);
    $('#conversations', main).innerHTML = list();
  });
  onUser('conversation-added', () => void chatPage(main));
  $('#new', main).addEventListener('submit', async (event) => {
    event.preventDefault();
    const other = ($('#with', main) as HTMLInputElement).value.trim();
    try {
      const { conversation } = await app.trpc.messaging.createConversation.mutate({ participants: [other] });
      location.hash = `chat/${conversation.id}`;
    } catch (error) {
      toast((error as Error).message);
    }
  });
  if (conversationId) await conversationView($('#conversation', main), conversationId);
}

async function conversationView(root: HTMLElement, conversationId: string): Promise<void> {
  const page = await app.trpc.messaging.list.query({ conversationId, limit: 50 });
  const messages = new Map(page.messages.map((m) => [m.id, m]));
  const reads = new Map(page.participants.map((p) => [p.userId, p.lastReadMessageId]));
  let pending: readonly Pending[] = [];
  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  root.innerHTML = `<h3>Messages</h3><ol class="messages" id="messages" aria-live="polite"></ol>
    <p id="typing" class="muted" aria-live="polite"></p>
    <form id="send" class="row"><div><label for="body">Message</label><input id="body" autocomplete="off" required></div><button>Send</button></form>`;
  const render = () => {
    const sorted = [...messages.values()].sort((a, b) => a.id - b.id);
    const seenBy = (id: number) => [...reads].filter(([user, last]) => user !== me && last >= id).map(([user]) => user);
    const last = sorted.at(-1);
    $('#messages', root).innerHTML =
      sorted.map((m) => `<li data-id="${m.id}" data-status="sent"><strong>${escape(m.senderId)}</strong>: ${escape(m.body)}${m === last && m.senderId === me && seenBy(m.id).length ? ` <span class="muted" id="receipt">✓ Seen by ${escape(seenBy(m.id).join(', '))}</span>` : ''}</li>`).join('') +
      pending.map((p) => `<li data-status="${p.status}"><strong>${escape(me)}</strong>: ${escape((p.input as { body: string }).body)} <span class="muted">${p.status === 'failed' ? 'failed — <button class="secondary retry" data-client="' + escape(p.clientId) + '">Retry</button>' : p.status}</span></li>`).join('');
    for (const button of root.querySelectorAll<HTMLButtonElement>('.retry')) {
      button.addEventListener('click', () => pending.find((p) => p.clientId === button.dataset.client)?.retry());
    }
  };
  const markRead = () => {
    const newest = [...messages.keys()].sort((a, b) => b - a)[0];
    if (newest !== undefined && document.visibilityState === 'visible' && (reads.get(me) ?? 0) < newest) {
      reads.set(me, newest);
      void app.trpc.messaging.markRead.mutate({ conversationId, messageId: newest });
    }
  };
  const chat = app.realtime.subscribe(`private-conversation-${conversationId}`, {
    'new-message': ({ message }) => {
      messages.set(message.id, message);
      render();
      markRead();
    },
    'read-receipt': (receipt) => {
      reads.set(receipt.userId, Math.max(reads.get(receipt.userId) ?? 0, receipt.lastReadMessageId));
      render();
    },
    'client-typing': (typing) => {
      $('#typing', root).textContent = `${typing.userId} is typing…`;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => ($('#typing', root).textContent = ''), 3000);
    },
  });
  const undoPending = app.optimistic.onChange((items) => {
    pending = items;
    render();
  });
  const visible = () => markRead();
  document.addEventListener('visibilitychange', visible);
  cleanup.push(() => chat.unsubscribe(), undoPending, () => document.removeEventListener('visibilitychange', visible));
  render();
  markRead();
  let lastTyping = 0;
  const input = $('#body', root) as HTMLInputElement;
  input.addEventListener('input', () => {
    if (Date.now() - lastTyping < 2000) return;
    lastTyping = Date.now();
    void chat.trigger('client-typing', { userId: me }).catch(() => undefined);
  });
  $('#send', root).addEventListener('submit', (event) => {
    event.preventDefault();
    const body = input.value;
    input.value = '';
    app.send(app.trpc.messaging.send.mutate, { conversationId, body });
  });
}

// -- CRM, positions, billing, calls ---------------------------------------------------------

async function crmPage(main: HTMLElement): Promise<void> {
  const locationId = main.dataset.arg;
  main.innerHTML = `<h2>CRM live feed</h2>
    <form id="pick" class="row"><div><label for="location">Location id</label><input id="location" required value="${escape(locationId ?? '')}"></div><button class="secondary">Open</button></form>
    <section id="feed"></section>`;
  $('#pick', main).addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `crm/${($('#location', main) as HTMLInputElement).value.trim()}`;
  });
  if (!locationId) return;
  const feed = $('#feed', main);
  const [revenue, page] = await Promise.all([
    app.trpc.crm.revenueToday.query({ locationId }),
    app.trpc.crm.feed.query({ locationId, limit: 20 }),
  ]);
  feed.innerHTML = `<p>Today's revenue: <strong id="revenue">${revenue.total.toFixed(2)} ${escape(revenue.currency ?? '')}</strong></p>
    <h3>Activity</h3><ol id="activity">${page.items.map((item) => `<li>${escape(item.event)} · ${escape(item.at)}</li>`).join('')}</ol>`;
  const add = (text: string) => {
    toast(text);
    $('#activity', feed).insertAdjacentHTML('afterbegin', `<li>${escape(text)}</li>`);
  };
  const channel = app.realtime.subscribe(`private-location-${locationId}`, {
    'lead-alert': (lead) => add(`New lead: ${lead.contact.name ?? 'someone'}${lead.hot ? ' (hot)' : ''}`),
    'location-message': (message) => add(`Message from ${message.contactName ?? 'a contact'}: ${message.preview}`),
    'project-won': (won) => add(`Deal won: ${won.projectName ?? ''} ${won.value ?? ''}`),
    'revenue-update': (update) => {
      $('#revenue', feed).textContent = `${update.total.toFixed(2)} ${update.currency}`;
      add(`Payment received: ${update.amount} ${update.currency}`);
    },
    'appointment-reminder': (reminder) => add(`In ${reminder.startsIn} min: ${reminder.title ?? 'appointment'}`),
    'contact-activity': (activity) => add(`Contact ${activity.type.replace('_', ' ')}: ${activity.contact.name ?? ''}`),
    'payment-failed': (failed) => add(`Payment failed: ${failed.customerName ?? ''}`),
  }, { error: (error) => console.warn('crm feed', error) });
  cleanup.push(() => channel.unsubscribe());
  await channel.ready;
  feed.dataset.live = 'true'; // subscribed and caught up: nothing from here on is missed
}

async function positionsPage(main: HTMLElement): Promise<void> {
  const rows = new Map<string, TradingPosition>();
  onUser('position-update', ({ position }) => {
    rows.set(`${position.connectionId}:${position.symbol}`, position);
    if (main.dataset.live) render();
    toast(`${position.symbol}: ${position.qty}`);
  });
  await userReady;
  const { positions } = await app.trpc.trading.positions.query({});
  for (const p of positions) {
    const key = `${p.connectionId}:${p.symbol}`;
    const newer = rows.get(key);
    if (!newer || newer.updatedAt < p.updatedAt) rows.set(key, p);
  }
  const render = () => {
    $('#positions', main).innerHTML = [...rows.values()]
      .map((p) => `<tr><th scope="row">${escape(p.symbol)}</th><td>${p.qty}</td><td>${p.avgPrice ?? '—'}</td><td>${p.marketValue ?? '—'}</td><td>${p.unrealizedPl ?? '—'}</td></tr>`)
      .join('');
  };
  main.innerHTML = `<h2>Positions</h2><table><caption class="visually-hidden">Open positions</caption>
    <thead><tr><th scope="col">Symbol</th><th scope="col">Qty</th><th scope="col">Avg price</th><th scope="col">Market value</th><th scope="col">Unrealized P/L</th></tr></thead>
    <tbody id="positions"></tbody></table>`;
  render();
  main.dataset.live = 'true';
}

async function billingPage(main: HTMLElement): Promise<void> {
  const status = await app.trpc.billing.status.query({});
  const returned = new URLSearchParams(location.search).get('checkout');
  main.innerHTML = `<h2>Billing</h2>
    ${returned === 'success' ? '<p role="status">Payment received — your balance updates as soon as Stripe confirms it.</p>' : ''}
    <p>Credits: <strong id="balance" aria-live="polite">${status.balance}</strong></p>
    <p>Subscription: <span id="subscription">${escape(status.subscription ? `${status.subscription.status}${status.subscription.active ? ' (active)' : ''}` : 'none')}</span></p>
    <p><button id="buy">Buy a credit pack</button> <button id="subscribe" class="secondary">Subscribe</button></p>`;
  onUser('billing-updated', (update) => {
    $('#balance', main).textContent = String(update.balance);
    $('#subscription', main).textContent = update.subscription ? `${update.subscription.status}${update.subscription.active ? ' (active)' : ''}` : 'none';
  });
  const checkout = (kind: 'credits' | 'subscription') => async () => {
    const { url } = await app.trpc.billing.checkout.mutate({ kind });
    location.href = url;
  };
  $('#buy', main).addEventListener('click', () => void checkout('credits')().catch((e: Error) => toast(e.message)));
  $('#subscribe', main).addEventListener('click', () => void checkout('subscription')().catch((e: Error) => toast(e.message)));
}

async function callsPage(main: HTMLElement): Promise<void> {
  const { calls } = await app.trpc.calls.list.query({});
  main.innerHTML = `<h2>Call log</h2><table><caption class="visually-hidden">Calls</caption>
    <thead><tr><th scope="col">When</th><th scope="col">Direction</th><th scope="col">Number</th><th scope="col">Status</th><th scope="col">Outcome</th><th scope="col">Summary</th></tr></thead>
    <tbody id="calls">${calls.map((c) => row(c.createdAt, c.direction, c.direction === 'inbound' ? c.fromNumber : c.toNumber, c.status, c.outcome, c.summary, c.id)).join('')}</tbody></table>`;
  onUser('call-ended', ({ call }) => {
    main.querySelector(`tr[data-id="${CSS.escape(call.id)}"]`)?.remove();
    $('#calls', main).insertAdjacentHTML('afterbegin', row(call.endedAt ?? '', call.direction, call.direction === 'inbound' ? call.fromNumber : call.toNumber, call.status, call.outcome, call.summary, call.id));
    toast(`Call ended: ${call.outcome ?? call.status}`);
  });
  await userReady;
  main.dataset.live = 'true';
  function row(at: string, direction: string, number: string, status: string, outcome: string | null, summary: string | null, id: string): string {
    return `<tr data-id="${escape(id)}"><td>${escape(at)}</td><td>${direction}</td><td>${escape(number)}</td><td>${escape(status)}</td><td>${escape(outcome ?? '—')}</td><td>${escape(summary ?? '')}</td></tr>`;
  }
}

void start();
