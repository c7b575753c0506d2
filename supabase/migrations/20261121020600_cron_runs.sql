-- Cron bookkeeping for /api/cron/<job>: a lease per job so two overlapping invocations (Vercel
-- may deliver a cron twice, or a slow run may still be going at the next tick) never run the
-- same job at once, and one cron_runs row per run.
--
-- The lease is a row, not an advisory lock: Supabase's transaction pooler forbids session
-- advisory locks, and each PostgREST call is its own transaction anyway. Taking it is one
-- `insert ... on conflict do update ... where expired`: a concurrent second caller waits for
-- the first insert to commit, then finds a live lease and gets false. An invocation that dies
-- without finishing leaves a lease that expires after its ttl (longer than maxDuration).
-- public.cron_finish() records the run and drops the lease in one transaction.
-- Service role only: no policies, so authenticated and anon see nothing.

create table public.cron_runs (
  id bigint generated always as identity primary key,
  job text not null check (char_length(job) between 1 and 100),
  started_at timestamptz not null,
  duration_ms integer not null check (duration_ms >= 0),
  result jsonb,
  error text check (char_length(error) <= 4000)
);

create index cron_runs_job_started_at_idx on public.cron_runs (job, started_at desc);
create index cron_runs_started_at_idx on public.cron_runs (started_at);

create table public.cron_leases (
  job text primary key check (char_length(job) between 1 and 100),
  holder uuid not null,
  acquired_at timestamptz not null,
  expires_at timestamptz not null
);

alter table public.cron_runs enable row level security;
alter table public.cron_leases enable row level security;

revoke all on public.cron_runs, public.cron_leases from anon, authenticated;
grant select, insert, update, delete on public.cron_runs, public.cron_leases to service_role;

create or replace function public.cron_lease_acquire(p_job text, p_holder uuid, p_ttl_s integer)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if p_ttl_s is null or p_ttl_s < 1 then
    raise exception 'lease ttl must be at least one second' using errcode = '22023';
  end if;
  insert into public.cron_leases as l (job, holder, acquired_at, expires_at)
  values (p_job, p_holder, now(), now() + make_interval(secs => p_ttl_s))
  on conflict (job) do update
    set holder = excluded.holder,
        acquired_at = excluded.acquired_at,
        expires_at = excluded.expires_at
    where l.expires_at <= now();
  return found;
end
$$;

create or replace function public.cron_finish(
  p_job text,
  p_holder uuid,
  p_started_at timestamptz,
  p_duration_ms integer,
  p_result jsonb,
  p_error text
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_id bigint;
begin
  insert into public.cron_runs (job, started_at, duration_ms, result, error)
  values (p_job, p_started_at, greatest(p_duration_ms, 0), p_result, left(p_error, 4000))
  returning id into v_id;
  delete from public.cron_leases where job = p_job and holder = p_holder;
  return v_id;
end
$$;

create or replace function public.cron_runs_cleanup(p_retention_days integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  if p_retention_days is null or p_retention_days < 1 then
    raise exception 'retention must be at least one day' using errcode = '22023';
  end if;
  delete from public.cron_runs
  where started_at < now() - make_interval(days => p_retention_days);
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

revoke execute on function public.cron_lease_acquire(text, uuid, integer)
  from public, anon, authenticated;
revoke execute on function public.cron_finish(text, uuid, timestamptz, integer, jsonb, text)
  from public, anon, authenticated;
revoke execute on function public.cron_runs_cleanup(integer) from public, anon, authenticated;
grant execute on function public.cron_lease_acquire(text, uuid, integer) to service_role;
grant execute on function public.cron_finish(text, uuid, timestamptz, integer, jsonb, text)
  to service_role;
grant execute on function public.cron_runs_cleanup(integer) to service_role;
