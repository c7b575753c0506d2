-- A TTL cache for JSON values (e.g. a broker's positions, fetched at most once a minute).
-- UNLOGGED: a cache may be lost in a crash. Expired rows are never returned and are deleted
-- by the `cleanup` cron (public.cache_expire). Service role only, through the functions.

create unlogged table public.cache_entries (
  key text primary key check (char_length(key) between 1 and 512),
  value jsonb not null,
  expires_at timestamptz not null,
  updated_at timestamptz not null default now()
);

create index cache_entries_expires_at_idx on public.cache_entries (expires_at);

alter table public.cache_entries enable row level security;

revoke all on public.cache_entries from anon, authenticated;
grant select, insert, update, delete on public.cache_entries to service_role;

-- {"value": ...} for a live entry, null for a missing or expired one (so a cached JSON null
-- is still a hit).
create or replace function public.cache_get(p_key text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('value', c.value)
  from public.cache_entries c
  where c.key = p_key and c.expires_at > now()
$$;

create or replace function public.cache_put(p_key text, p_value jsonb, p_ttl_s integer)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_expires_at timestamptz;
begin
  if p_ttl_s is null or p_ttl_s < 1 then
    raise exception 'cache ttl must be at least one second' using errcode = '22023';
  end if;
  insert into public.cache_entries as c (key, value, expires_at, updated_at)
  values (p_key, coalesce(p_value, 'null'::jsonb), now() + make_interval(secs => p_ttl_s), now())
  on conflict (key) do update
    set value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at
  returning c.expires_at into v_expires_at;
  return v_expires_at;
end
$$;

create or replace function public.cache_delete(p_key text)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  delete from public.cache_entries where key = p_key;
  return found;
end
$$;

create or replace function public.cache_expire()
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.cache_entries where expires_at <= now();
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

revoke execute on function public.cache_get(text) from public, anon, authenticated;
revoke execute on function public.cache_put(text, jsonb, integer) from public, anon, authenticated;
revoke execute on function public.cache_delete(text) from public, anon, authenticated;
revoke execute on function public.cache_expire() from public, anon, authenticated;
grant execute on function public.cache_get(text) to service_role;
grant execute on function public.cache_put(text, jsonb, integer) to service_role;
grant execute on function public.cache_delete(text) to service_role;
grant execute on function public.cache_expire() to service_role;
