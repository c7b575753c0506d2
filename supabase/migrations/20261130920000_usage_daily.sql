-- Usage metering: one row per (day, provider, metric, dimension) in public.usage_daily, the
-- input of the monthly cost projection (lib/features/usage). Nothing here adds a write to a
-- request: the figures come from what the system records anyway.
--
--   public.usage_rollup(day, realtime provider, events per provider call)
--       recomputes one UTC day from the records (idempotent; the `usage-rollup` cron runs it
--       for yesterday and today every hour, before the sources' own retention removes them):
--       outbox            <provider> events_published, provider_calls (rows marked in one
--                         outbox_mark_published share published_at: one publish call, split in
--                         batches of p_batch_size), deliveries_estimated (each event x the
--                         subscribers its channel has now: present members of a presence
--                         channel, 1 for an online user's own channel, else 1)
--       realtime_presence <provider> peak_connections (users present now; the day keeps its
--                         highest sample: public.usage_peak_sample, also run every minute by
--                         the `ops-health` cron)
--       webhook_events    <webhook provider> webhooks / <status>
--       cron_runs         vercel cron_runs / <job>, cron_failures / <job>
--       trading_sync_logs <broker> api_calls (each on-demand sync makes 4 broker GETs:
--                         lib/features/trading/brokers.py), syncs
--       calls             <signalwire|twilio> calls, voice_minutes (billed per started minute);
--                         openai realtime_minutes (stream start to end), realtime_calls,
--                         realtime_minutes_max (the longest call)
--   public.usage_invocations_add(rows)
--       adds the function-invocation tallies a warm instance flushes at most once a minute
--       (lib/invocations.py): vercel invocations / invocation_ms / invocation_max_ms by route.
--   public.usage_daily_cleanup(days)   bounded retention (the `cleanup` cron).
--
-- The rollup reads tables other features own (calls, trading_*) read-only and by name, so
-- one SQL function can total a day in one statement per source; it writes only usage_daily.
-- Service role only: RLS on, no policies.

create table public.usage_daily (
  day date not null,
  provider text not null check (provider ~ '^[a-z][a-z0-9_-]{0,39}$'),
  metric text not null check (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
  dimension text not null default '' check (char_length(dimension) <= 100),
  value double precision not null check (value >= 0),
  updated_at timestamptz not null default now(),
  primary key (day, provider, metric, dimension)
);

comment on table public.usage_daily is
  'Daily usage per provider and metric, rolled up from existing records; see migration header.';

alter table public.usage_daily enable row level security;
revoke all on public.usage_daily from public, anon, authenticated;
grant select, insert, update, delete on public.usage_daily to service_role;

-- Metrics the rollup owns: recomputed from scratch for the day (the invocation tallies and
-- the peak samples are kept: they cannot be recomputed from records).
create or replace function private.usage_rolled_up_metric(p_metric text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select p_metric not in ('invocations', 'invocation_ms', 'invocation_max_ms', 'peak_connections')
$$;

-- Users present now (realtime_presence); today's peak_connections keeps the highest sample.
-- Called by every usage_rollup of today and by the `ops-health` cron each minute.
create or replace function public.usage_peak_sample(p_provider text)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_now integer;
begin
  if p_provider is null or p_provider !~ '^[a-z][a-z0-9_-]{0,39}$' then
    raise exception 'usage_peak_sample needs a provider name' using errcode = '22023';
  end if;
  select count(distinct p.user_id) into v_now from public.realtime_presence p where p.present;
  insert into public.usage_daily as u (day, provider, metric, dimension, value)
  values ((now() at time zone 'UTC')::date, p_provider, 'peak_connections', '', v_now)
  on conflict (day, provider, metric, dimension)
    do update set value = greatest(u.value, excluded.value), updated_at = now();
  return v_now;
end
$$;

create or replace function public.usage_rollup(
  p_day date,
  p_realtime_provider text,
  p_batch_size integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_from timestamptz := p_day::timestamp at time zone 'UTC';
  v_to timestamptz := (p_day + 1)::timestamp at time zone 'UTC';
  v_rows integer;
  v_peak integer;
begin
  if p_day is null or p_realtime_provider is null
     or p_realtime_provider !~ '^[a-z][a-z0-9_-]{0,39}$' then
    raise exception 'usage_rollup needs a day and a provider name' using errcode = '22023';
  end if;
  if p_batch_size is null or p_batch_size < 1 then
    raise exception 'batch size must be at least 1' using errcode = '22023';
  end if;

  delete from public.usage_daily u
  where u.day = p_day and private.usage_rolled_up_metric(u.metric);

  with published as (
    select o.channel, o.published_at from public.outbox o
    where o.published_at >= v_from and o.published_at < v_to
  ),
  calls as (
    select ceil(count(*)::numeric / p_batch_size) as n from published group by published_at
  ),
  present as (
    select p.channel, p.user_id from public.realtime_presence p where p.present
  ),
  per_channel as (
    select pb.channel, count(*) as events,
      coalesce(
        nullif((select count(*) from present pr where pr.channel = pb.channel), 0),
        case when pb.channel ~ '^private-(encrypted-)?user-' then
          (select count(distinct pr.user_id) from present pr
           where pr.user_id = regexp_replace(pb.channel, '^private-(encrypted-)?user-', ''))
        end,
        1
      ) as subscribers
    from published pb group by pb.channel
  )
  insert into public.usage_daily (day, provider, metric, dimension, value)
  select p_day, p_realtime_provider, m.metric, '', m.value
  from (
    select 'events_published' as metric, (select count(*) from published)::double precision
    union all
    select 'provider_calls', coalesce((select sum(n) from calls), 0)::double precision
    union all
    select 'deliveries_estimated',
      coalesce((select sum(events * subscribers) from per_channel), 0)::double precision
  ) m(metric, value);

  if p_day = (now() at time zone 'UTC')::date then
    v_peak := public.usage_peak_sample(p_realtime_provider);
  end if;

  insert into public.usage_daily (day, provider, metric, dimension, value)
  select p_day, w.provider, 'webhooks', w.status, count(*)
  from public.webhook_events w
  where w.received_at >= v_from and w.received_at < v_to
  group by w.provider, w.status;

  insert into public.usage_daily (day, provider, metric, dimension, value)
  select p_day, 'vercel', m.metric, r.job, m.value
  from (
    select r.job, count(*) as runs, count(*) filter (where r.error is not null) as failures
    from public.cron_runs r
    where r.started_at >= v_from and r.started_at < v_to
    group by r.job
  ) r
  cross join lateral (values ('cron_runs', r.runs), ('cron_failures', r.failures)) m(metric, value);

  insert into public.usage_daily (day, provider, metric, dimension, value)
  select p_day, c.broker, m.metric, '', m.value
  from (
    select tc.broker, count(*) as syncs
    from public.trading_sync_logs l
    join public.trading_connections tc on tc.id = l.connection_id
    where l.source = 'sync' and l.created_at >= v_from and l.created_at < v_to
    group by tc.broker
  ) c
  cross join lateral (values ('syncs', c.syncs), ('api_calls', c.syncs * 4)) m(metric, value);

  insert into public.usage_daily (day, provider, metric, dimension, value)
  select p_day, c.provider, m.metric, '', m.value
  from (
    select c.provider, count(*) as calls,
      sum(ceil(coalesce(c.duration_s, 0) / 60.0)) as minutes
    from public.calls c
    where c.ended_at >= v_from and c.ended_at < v_to
    group by c.provider
  ) c
  cross join lateral (values ('calls', c.calls), ('voice_minutes', c.minutes)) m(metric, value);

  insert into public.usage_daily (day, provider, metric, dimension, value)
  select p_day, 'openai', m.metric, '', m.value
  from (
    select count(*) as calls,
      sum(extract(epoch from c.ended_at - c.stream_started_at) / 60.0) as minutes,
      max(extract(epoch from c.ended_at - c.stream_started_at) / 60.0) as longest
    from public.calls c
    where c.stream_started_at is not null and c.ended_at >= v_from and c.ended_at < v_to
      and c.ended_at >= c.stream_started_at
    having count(*) > 0
  ) c
  cross join lateral (
    values ('realtime_calls', c.calls), ('realtime_minutes', c.minutes),
           ('realtime_minutes_max', c.longest)
  ) m(metric, value);

  select count(*) into v_rows from public.usage_daily u where u.day = p_day;
  return jsonb_build_object('day', p_day, 'rows', v_rows, 'peakConnections', v_peak);
end
$$;

-- p_rows: [{"day": "YYYY-MM-DD", "route": "/api/trpc", "count": n, "ms": total, "maxMs": m}]
create or replace function public.usage_invocations_add(p_rows jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_row jsonb;
  v_added integer := 0;
begin
  if p_rows is null or jsonb_typeof(p_rows) <> 'array' or jsonb_array_length(p_rows) > 200 then
    raise exception 'usage_invocations_add takes an array of at most 200 rows'
      using errcode = '22023';
  end if;
  for v_row in select * from jsonb_array_elements(p_rows) loop
    insert into public.usage_daily as u (day, provider, metric, dimension, value)
    select (v_row ->> 'day')::date, 'vercel', m.metric, left(v_row ->> 'route', 100), m.value
    from (values
      ('invocations', (v_row ->> 'count')::double precision),
      ('invocation_ms', (v_row ->> 'ms')::double precision),
      ('invocation_max_ms', (v_row ->> 'maxMs')::double precision)
    ) m(metric, value)
    on conflict (day, provider, metric, dimension) do update
      set value = case when u.metric = 'invocation_max_ms'
                       then greatest(u.value, excluded.value)
                       else u.value + excluded.value end,
          updated_at = now();
    v_added := v_added + 1;
  end loop;
  return v_added;
end
$$;

create or replace function public.usage_daily_list(p_since date)
returns setof public.usage_daily
language sql
stable
security definer
set search_path = ''
as $$
  select * from public.usage_daily u where u.day >= p_since
  order by u.day, u.provider, u.metric, u.dimension
$$;

create or replace function public.usage_daily_cleanup(p_retention_days integer)
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
  delete from public.usage_daily
  where day < (now() at time zone 'UTC')::date - p_retention_days;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

revoke execute on function private.usage_rolled_up_metric(text) from public, anon, authenticated;
revoke execute on function public.usage_peak_sample(text) from public, anon, authenticated;
revoke execute on function public.usage_rollup(date, text, integer) from public, anon, authenticated;
revoke execute on function public.usage_invocations_add(jsonb) from public, anon, authenticated;
revoke execute on function public.usage_daily_list(date) from public, anon, authenticated;
revoke execute on function public.usage_daily_cleanup(integer) from public, anon, authenticated;
grant execute on function public.usage_peak_sample(text) to service_role;
grant execute on function public.usage_rollup(date, text, integer) to service_role;
grant execute on function public.usage_invocations_add(jsonb) to service_role;
grant execute on function public.usage_daily_list(date) to service_role;
grant execute on function public.usage_daily_cleanup(integer) to service_role;
