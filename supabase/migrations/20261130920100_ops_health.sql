-- Live ops health (lib/features/usage/health.py): queue depths and error rates, read in one
-- call, and the command that sends them to the operators watching.
--
--   public.ops_health()  -> {outbox: {pending, oldestAgeS, parked}, publish: {lastHour,
--                            retried, errorRate}, webhooks: [{provider, failed, parked}],
--                            cron: [{job, lastRunAt, lastError, lastFailureAt, runs24h,
--                            failures24h}], watchers: [user ids present on presence-ops-*]}
--   public.ops_health_publish(channels, health, alerts)
--       queues `system-health` (and `system-alert` when there are alerts) on each channel;
--       returns {events} for the command path (lib.commands).
--
-- Service role only: RLS is not involved (nothing new is stored besides outbox rows).

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
    ), '[]'::jsonb)
  )
$$;

create or replace function public.ops_health_publish(
  p_channels text[],
  p_health jsonb,
  p_alerts jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_channel text;
  v_ids bigint[] := '{}';
begin
  if p_channels is null or cardinality(p_channels) > 100 then
    raise exception 'at most 100 channels' using errcode = '22023';
  end if;
  if cardinality(p_channels) = 0 then
    return jsonb_build_object('events', '[]'::jsonb);
  end if;
  foreach v_channel in array (select array_agg(c order by c) from unnest(p_channels) c) loop
    v_ids := v_ids || public.outbox_enqueue(v_channel, 'system-health', p_health);
    if p_alerts is not null and jsonb_array_length(p_alerts) > 0 then
      v_ids := v_ids || public.outbox_enqueue(
        v_channel, 'system-alert', jsonb_build_object('alerts', p_alerts));
    end if;
  end loop;
  return jsonb_build_object('events', public.outbox_rows(v_ids));
end
$$;

revoke execute on function public.ops_health() from public, anon, authenticated;
revoke execute on function public.ops_health_publish(text[], jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function public.ops_health() to service_role;
grant execute on function public.ops_health_publish(text[], jsonb, jsonb) to service_role;
