// What a Next.js app writes against Sockless: a fully typed tRPC client from the generated,
// type-only AppRouter (`make types` -> types/generated/trpc.ts). Type-checked by
// tests/test_trpc_types.py with `tsc --strict --noEmit`; never run.
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';

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

export async function sample(): Promise<string> {
  const health = await trpc.system.health.query();
  const status: 'ok' = health.status;
  const time: string = health.time;

  const me = await trpc.system.whoami.query();
  const email: string | null = me.email;

  const input: Inputs['system']['echo'] = {
    message: 'hello',
    count: 2,
    tags: [{ name: 'a', weight: 3 }, { name: 'b' }],
  };
  const echo: Outputs['system']['echo'] = await trpc.system.echo.mutate(input);
  const weight: number = echo.input.tags[0]?.weight ?? 0;

  const page = await trpc.events.since.query({ channel: 'private-user-42', after: '17' });
  const ids: string[] = page.events.map((event) => event.id);
  const more: boolean = page.more;

  const viaSuperjson = await trpcSuperjson.system.health.query();

  // @ts-expect-error: message is required
  await trpc.system.echo.mutate({ count: 1 });
  // @ts-expect-error: count is a number
  await trpc.system.echo.mutate({ message: 'x', count: '2' });
  // @ts-expect-error: no such field
  await trpc.system.echo.mutate({ message: 'x', colour: 'red' });
  // @ts-expect-error: echo is a mutation, not a query
  await trpc.system.echo.query({ message: 'x' });
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
  return [status, time, email, echo.repeated, weight, ids.join(), more, viaSuperjson.version].join();
}
