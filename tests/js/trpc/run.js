// Drives the official @trpc/client against a tRPC endpoint, for tests/test_trpc_client.py.
//
//   node tests/js/trpc/run.js < plan.json
//
// plan:   {"url": "http://127.0.0.1:PORT/api/trpc", "timeoutMs": 20000,
//          "groups": [{"link": "http" | "batch", "client": "typed" | "untyped",
//                      "transformer": "superjson" (optional), "token": "<jwt>" (optional),
//                      "calls": [{"type": "query" | "mutation", "path": "testing.echo",
//                                 "input": ... (omit for undefined)}]}]}
// Each group's calls start in the same tick on one client, so httpBatchLink batches them;
// groups run one after the other.
// stdout: {"groups": [{"results": [{"ok": true, "data"} | {"ok": false, "code", ...}],
//                      "requests": [{"method", "url", "status", "vary"}]}]}
//
// Bounded: every fetch is aborted after timeoutMs, and the process exits by itself after
// 2 x timeoutMs.
import {
  createTRPCClient,
  createTRPCUntypedClient,
  httpBatchLink,
  httpLink,
  TRPCClientError,
} from '@trpc/client';
import superjson from 'superjson';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const timeoutMs = plan.timeoutMs ?? 20000;

setTimeout(() => {
  process.stderr.write(`run.js: gave up after ${2 * timeoutMs} ms\n`);
  process.exit(3);
}, 2 * timeoutMs).unref();

function describeError(error) {
  if (!(error instanceof TRPCClientError)) {
    return { ok: false, name: error?.name ?? 'unknown', message: String(error?.message ?? error) };
  }
  const response = error.meta?.response;
  return {
    ok: false,
    name: error.name,
    message: error.message,
    code: error.data?.code ?? null,
    httpStatus: error.data?.httpStatus ?? null,
    path: error.data?.path ?? null,
    data: error.data ?? null,
    jsonRpcCode: error.shape?.code ?? null,
    status: response?.status ?? null,
    retryAfter: response?.headers?.get?.('retry-after') ?? null,
    cause: error.cause?.message ?? null,
  };
}

async function runGroup(group) {
  const requests = [];
  const recordingFetch = async (url, init = {}) => {
    const signals = [AbortSignal.timeout(timeoutMs), init.signal].filter(Boolean);
    const response = await fetch(url, { ...init, signal: AbortSignal.any(signals) });
    const text = String(url);
    requests.push({
      method: init.method ?? 'GET',
      url: text.length > 2000 ? `${text.slice(0, 2000)}...` : text,
      status: response.status,
      vary: response.headers.get('vary'),
    });
    return response;
  };
  const options = {
    url: plan.url,
    fetch: recordingFetch,
    headers: () => (group.token ? { authorization: `Bearer ${group.token}` } : {}),
    ...(group.transformer === 'superjson' ? { transformer: superjson } : {}),
  };
  const link = group.link === 'http' ? httpLink(options) : httpBatchLink(options);
  const untyped = group.client === 'untyped';
  const client = untyped
    ? createTRPCUntypedClient({ links: [link] })
    : createTRPCClient({ links: [link] });

  const start = (call) => {
    const args = 'input' in call ? [call.input] : [];
    if (untyped) return client[call.type](call.path, ...args);
    const procedure = call.path.split('.').reduce((node, key) => node[key], client);
    return call.type === 'query' ? procedure.query(...args) : procedure.mutate(...args);
  };
  const settled = await Promise.allSettled(group.calls.map(start));
  const results = settled.map((outcome) =>
    outcome.status === 'fulfilled'
      ? { ok: true, data: outcome.value ?? null }
      : describeError(outcome.reason),
  );
  return { results, requests };
}

const groups = [];
for (const group of plan.groups) groups.push(await runGroup(group));
process.stdout.write(JSON.stringify({ groups }));
