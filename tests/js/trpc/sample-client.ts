// What a Next.js app writes against Sockless: a fully typed tRPC client from the generated,
// type-only AppRouter (`make types` -> types/generated/trpc.ts). Type-checked by
// tests/test_trpc_types.py with `tsc --strict --noEmit`; never run.
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';

import type { EventsOf, PokerVoteInput, UserChannelEvents } from '../../../types/generated/api';
import type { AppRouter, SuperjsonAppRouter } from '../../../types/generated/trpc';

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

const trpc = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: 'http://127.0.0.1:3000/api/trpc',
      headers: () => ({ authorization: 'Bearer <token>' }),
    }),
  ],
});

const trpcSuperjson = createTRPCClient<SuperjsonAppRouter>({
  links: [httpLink({ url: '/api/trpc', transformer: superjson })],
});

// Realtime payloads are typed per channel family and event name (api.ts, from the pydantic
// event models): a vote says who voted, never which card.
type PokerEvents = EventsOf<'presence-poker-0b8c2f4e-3d7a-4f7e-9a51-2c4b8e6d1f00'>;
export const voter = (vote: PokerEvents['vote']): string => `${vote.userId} (${vote.votes} votes)`;
// @ts-expect-error: a vote event carries no card value
export const card = (vote: PokerEvents['vote']): string => vote.value;
export const balance = (e: UserChannelEvents['billing-updated']): number => e.balance;
// @ts-expect-error: no such event on a user channel
export type Nothing = UserChannelEvents['vote'];
export const voteInput: PokerVoteInput = { taskId: '0b8c2f4e-3d7a-4f7e-9a51-2c4b8e6d1f00', value: '5' };

export async function sample(): Promise<string> {
  const health = await trpc.system.health.query();
  const status: 'ok' = health.status;
  const time: string = health.time;

  const me = await trpc.system.whoami.query();
  const email: string | null = me.email;

  const input: Inputs['messaging']['send'] = {
    conversationId: '0b8c2f4e-3d7a-4f7e-9a51-2c4b8e6d1f00',
    clientId: 'c-1',
    body: 'hello',
  };
  const sent: Outputs['messaging']['send'] = await trpc.messaging.send.mutate(input);
  const messageId: number = sent.message.id;

  const page = await trpc.events.since.query({ channel: 'private-user-42', after: '17' });
  const ids: string[] = page.events.map((event) => event.id);
  const more: boolean = page.more;

  const viaSuperjson = await trpcSuperjson.system.health.query();

  // @ts-expect-error: body is required
  await trpc.messaging.send.mutate({ conversationId: input.conversationId, clientId: 'c-2' });
  // @ts-expect-error: body is a string
  await trpc.messaging.send.mutate({ ...input, body: 2 });
  // @ts-expect-error: no such field
  await trpc.messaging.send.mutate({ ...input, colour: 'red' });
  // @ts-expect-error: send is a mutation, not a query
  await trpc.messaging.send.query(input);
  // @ts-expect-error: no such procedure
  await trpc.system.nothing.query();
  // @ts-expect-error: health takes no input
  await trpc.system.health.query({ verbose: true });
  // @ts-expect-error: the superjson router needs a transformer on its links
  createTRPCClient<SuperjsonAppRouter>({ links: [httpLink({ url: '/api/trpc' })] });

  try {
    await trpc.system.whoami.query();
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const code: string | undefined = error.data?.code;
      return code ?? 'unknown';
    }
  }
  return [status, time, email, sent.message.body, messageId, ids.join(), more, viaSuperjson.version].join();
}
