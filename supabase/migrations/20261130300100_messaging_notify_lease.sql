-- Offline notifications: a batch is no longer stuck in `sending` for good (issue 10).
--
--   messaging_notify_claim(limit, delay, lease, max_attempts)
--        first recovers batches still `sending` whose claim (created_at) is older than
--        p_lease_seconds (longer than any function runs: the run that claimed them died, or
--        could not record the outcome): the batch becomes `failed` ("lease expired") and its
--        items pending again with one more attempt (dropped at p_max_attempts), so they are
--        claimed again, in this very call if due. The run may have sent it before dying:
--        such a recipient can be notified twice, rather than never (the notification key is
--        per batch). Then claims as the two-argument form does (migration
--        20261121050002_message_notifications), which it calls.
--   messaging_notify_release(batches)
--        a run hands back the batches it claimed but never tried to send (cancelled, or a
--        failure before sending): still `sending`, they are deleted and their items pending
--        again, with no attempt counted. Batches already finished are left alone.

create function public.messaging_notify_claim(
  p_limit integer,
  p_delay_seconds double precision,
  p_lease_seconds double precision,
  p_max_attempts integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_stale bigint[];
begin
  if p_lease_seconds is null or p_lease_seconds < 0 then
    raise exception 'lease must be 0 or more seconds' using errcode = '22023';
  end if;
  if p_max_attempts is null or p_max_attempts < 1 then
    raise exception 'max attempts must be at least 1' using errcode = '22023';
  end if;
  with stale as (
    update public.notification_batches b
    set status = 'failed',
        error = 'lease expired: the run that claimed it never recorded an outcome',
        finished_at = now()
    where b.status = 'sending'
      and b.created_at < now() - make_interval(secs => p_lease_seconds)
    returning b.id
  )
  select coalesce(array_agg(id), '{}') into v_stale from stale;
  update public.message_notifications n
  set attempts = n.attempts + 1,
      status = case when n.attempts + 1 >= p_max_attempts then 'dropped' else 'pending' end,
      retry_at = null
  where n.batch_id = any(v_stale) and n.status = 'batched';
  return public.messaging_notify_claim(p_limit, p_delay_seconds);
end
$$;

create function public.messaging_notify_release(p_batches bigint[])
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_released bigint[];
begin
  select coalesce(array_agg(s.id), '{}') into v_released
  from (
    select b.id from public.notification_batches b
    where b.id = any(coalesce(p_batches, '{}')) and b.status = 'sending'
    for update
  ) s;
  update public.message_notifications n
  set status = 'pending', batch_id = null
  where n.batch_id = any(v_released) and n.status = 'batched';
  delete from public.notification_batches b where b.id = any(v_released);
  return cardinality(v_released);
end
$$;

revoke execute on function public.messaging_notify_claim(
  integer, double precision, double precision, integer
) from public, anon, authenticated;
revoke execute on function public.messaging_notify_release(bigint[])
  from public, anon, authenticated;

grant execute on function public.messaging_notify_claim(
  integer, double precision, double precision, integer
) to service_role;
grant execute on function public.messaging_notify_release(bigint[]) to service_role;
