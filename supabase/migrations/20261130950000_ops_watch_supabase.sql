-- Live ops health in Supabase Realtime mode (REALTIME_PROVIDER=supabase).
--
-- The `ops-health` cron publishes `system-health` only while an operator watches their
-- `presence-ops-{id}` channel; Pusher mode learns that from presence webhooks
-- (realtime_presence). Hosted Supabase Realtime sends no presence webhooks, so, as for who is
-- online (20261130900100: messaging.heartbeat), the operator's page says it: while its topic
-- `ops-{id}` is SUBSCRIBED it calls the tRPC mutation `ops.watch` every 30 s, and
-- `ops.watch({watching: false})` when it goes away. Each call keeps the row
-- (user, 'presence-ops-{user}') present for p_ttl_seconds; a page that vanishes silently stops
-- the events at most that long after its last call.
--
--   private.can_access_topic()  + `ops-{user}`: that user only (Pusher: same_user on
--                               presence-ops-{id}), so supabase-js may join it (RLS SELECT)
--   public.ops_health()         watchers ignore rows whose expires_at has passed (webhook rows
--                               have none: Pusher mode is unchanged)
--   public.ops_watch(user, watching, ttl) -> {watching, expiresAt}   service role only

create or replace function private.can_access_topic(p_topic text, p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    case
      when p_user_id is null or t.topic is null then false
      when t.topic like 'user-%' then substr(t.topic, 6) = p_user_id
      when t.topic like 'ops-%' then substr(t.topic, 5) = p_user_id
      when t.topic like 'location-%' then
        private.is_location_member(substr(t.topic, 10), p_user_id)
      when t.topic ~* '^poker-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        private.is_poker_member(substr(t.topic, 7)::uuid, p_user_id)
      when t.topic ~* '^conversation-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        private.is_conversation_participant(substr(t.topic, 14)::uuid, p_user_id)
      else false
    end,
    false
  )
  -- `client:{topic}` (client events) has the members of `{topic}`
  from (
    select case when p_topic like 'client:%' then substr(p_topic, 8) else p_topic end as topic
  ) t
$$;

revoke execute on function private.can_access_topic(text, text) from public, anon;
grant execute on function private.can_access_topic(text, text) to authenticated, service_role;

create or replace function public.ops_health()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'outbox', (
      select jsonb_build_object(
        'pending', count(*) filter (where o.next_attempt_at < 'infinity'),
        'oldestAgeS', coalesce(extract(epoch from now() - min(o.created_at)
          filter (where o.next_attempt_at < 'infinity')), 0),
        'parked', count(*) filter (where o.next_attempt_at = 'infinity')
      )
      from public.outbox o where o.published_at is null
    ),
    'publish', (
      select jsonb_build_object(
        'lastHour', count(*),
        'retried', count(*) filter (where o.attempts > 0),
        'errorRate', case when count(*) = 0 then 0
          else round(count(*) filter (where o.attempts > 0)::numeric / count(*), 4) end
      )
      from public.outbox o where o.created_at > now() - interval '1 hour'
    ),
    'webhooks', coalesce((
      select jsonb_agg(jsonb_build_object('provider', w.provider, 'failed', w.failed,
        'parked', w.parked) order by w.provider)
      from (
        select provider, count(*) filter (where status = 'failed') as failed,
          count(*) filter (where status = 'parked') as parked
        from public.webhook_events where status in ('failed', 'parked')
        group by provider
      ) w
    ), '[]'::jsonb),
    'cron', coalesce((
      select jsonb_agg(jsonb_build_object('job', c.job, 'lastRunAt', c.last_run_at,
        'lastError', c.last_error, 'lastFailureAt', c.last_failure_at,
        'runs24h', c.runs, 'failures24h', c.failures) order by c.job)
      from (
        select r.job, max(r.started_at) as last_run_at,
          (array_agg(r.error order by r.started_at desc))[1] as last_error,
          max(r.started_at) filter (where r.error is not null) as last_failure_at,
          count(*) filter (where r.started_at > now() - interval '1 day') as runs,
          count(*) filter (where r.error is not null
            and r.started_at > now() - interval '1 day') as failures
        from public.cron_runs r
        group by r.job
      ) c
    ), '[]'::jsonb),
    'watchers', coalesce((
      select jsonb_agg(distinct p.user_id)
      from public.realtime_presence p
      where p.present and p.channel = 'presence-ops-' || p.user_id
        and (p.expires_at is null or p.expires_at > now())
    ), '[]'::jsonb)
  )
$$;

revoke execute on function public.ops_health() from public, anon, authenticated;
grant execute on function public.ops_health() to service_role;

create or replace function public.ops_watch(
  p_user_id text, p_watching boolean, p_ttl_seconds integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_expires timestamptz;
begin
  if p_user_id is null or p_watching is null or p_ttl_seconds is null
     or p_ttl_seconds not between 10 and 3600 then
    raise exception 'ops_watch needs a user, watching, and a ttl of 10..3600 s'
      using errcode = '22023';
  end if;
  v_expires := case when p_watching then now() + make_interval(secs => p_ttl_seconds) end;
  insert into public.realtime_presence as p
    (user_id, channel, present, event_time_ms, event_index, expires_at)
  values (
    p_user_id, 'presence-ops-' || p_user_id, p_watching,
    (extract(epoch from clock_timestamp()) * 1000)::bigint, 0, v_expires
  )
  on conflict (user_id, channel) do update
    set present = excluded.present,
        event_time_ms = excluded.event_time_ms,
        event_index = 0,
        expires_at = excluded.expires_at,
        updated_at = now();
  return jsonb_build_object('watching', p_watching, 'expiresAt', v_expires);
end
$$;

revoke execute on function public.ops_watch(text, boolean, integer)
  from public, anon, authenticated;
grant execute on function public.ops_watch(text, boolean, integer) to service_role;
