-- Rate limits: one counter per key (e.g. `realtime-auth:{user}`) in a fixed window that opens
-- with the key's first hit. UNLOGGED: counters are cheap to lose in a crash and skip the WAL.
-- public.rate_limit_hit() counts one call in one statement (insert ... on conflict do update,
-- so concurrent callers never lose a count) and says whether it is allowed; lib/ratelimit.py
-- turns a refusal into 429 + Retry-After. The `cleanup` cron deletes closed windows.
-- Service role only: no policies, so authenticated and anon see nothing.

create unlogged table public.rate_limits (
  key text primary key check (char_length(key) between 1 and 256),
  count integer not null check (count >= 0),
  reset_at timestamptz not null
);

alter table public.rate_limits enable row level security;

revoke all on public.rate_limits from anon, authenticated;
grant select, insert, update, delete on public.rate_limits to service_role;

create or replace function public.rate_limit_hit(p_key text, p_limit integer, p_window_s integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_count integer;
  v_reset_at timestamptz;
begin
  if p_limit is null or p_limit < 1 or p_window_s is null or p_window_s < 1 then
    raise exception 'rate limit and window must be positive' using errcode = '22023';
  end if;
  insert into public.rate_limits as r (key, count, reset_at)
  values (p_key, 1, now() + make_interval(secs => p_window_s))
  on conflict (key) do update
    set count = case when r.reset_at <= now() then 1 else least(r.count, 2147483646) + 1 end,
        reset_at = case when r.reset_at <= now() then excluded.reset_at else r.reset_at end
  returning r.count, r.reset_at into v_count, v_reset_at;
  return jsonb_build_object(
    'allowed', v_count <= p_limit,
    'remaining', greatest(p_limit - v_count, 0),
    'reset_at', v_reset_at,
    'retry_after', greatest(ceil(extract(epoch from v_reset_at - now())), 1)::integer
  );
end
$$;

revoke execute on function public.rate_limit_hit(text, integer, integer)
  from public, anon, authenticated;
grant execute on function public.rate_limit_hit(text, integer, integer) to service_role;

create or replace function public.rate_limit_cleanup()
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.rate_limits where reset_at <= now();
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

revoke execute on function public.rate_limit_cleanup() from public, anon, authenticated;
grant execute on function public.rate_limit_cleanup() to service_role;
