-- Who is online in Supabase Realtime mode (REALTIME_PROVIDER=supabase).
--
-- In Pusher mode the provider's webhooks say who is connected (20261121050001). Hosted
-- Supabase Realtime has no presence webhooks and our backend holds no socket, so there the
-- client says it: while the app is open (its Realtime channels SUBSCRIBED) it calls the tRPC
-- mutation `messaging.heartbeat` every 30 s, and `{online: false}` when it goes away (tab
-- hidden / closed, best effort). Each heartbeat keeps a row present for p_ttl_seconds (90 s
-- by default), so a client that vanishes without saying so is offline at most that long
-- after its last heartbeat — the same bounded staleness as Pusher's delayed vacated webhook.
--
-- The row is (user, 'heartbeat'): one per user, whatever the number of tabs; the newest
-- heartbeat wins. private.is_user_online() — what messaging_send asks before queuing an
-- offline notification — now ignores rows whose expires_at has passed; webhook rows have
-- none, so Pusher mode is unchanged. Service role only, like the rest of the table.

alter table public.realtime_presence add column if not exists expires_at timestamptz;

create or replace function private.is_user_online(p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.realtime_presence p
    where p.user_id = p_user_id
      and p.present
      and (p.expires_at is null or p.expires_at > now())
  )
$$;

revoke execute on function private.is_user_online(text) from public, anon, authenticated;
grant execute on function private.is_user_online(text) to service_role;

-- Returns {"online": bool, "expiresAt": timestamptz | null}.
create or replace function public.realtime_presence_heartbeat(
  p_user_id text, p_online boolean, p_ttl_seconds integer
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
  if p_user_id is null or p_online is null or p_ttl_seconds is null
     or p_ttl_seconds not between 10 and 3600 then
    raise exception 'a heartbeat needs a user, online, and a ttl of 10..3600 s'
      using errcode = '22023';
  end if;
  v_expires := case when p_online then now() + make_interval(secs => p_ttl_seconds) end;
  insert into public.realtime_presence as p
    (user_id, channel, present, event_time_ms, event_index, expires_at)
  values (
    p_user_id, 'heartbeat', p_online,
    (extract(epoch from clock_timestamp()) * 1000)::bigint, 0, v_expires
  )
  on conflict (user_id, channel) do update
    set present = excluded.present,
        event_time_ms = excluded.event_time_ms,
        event_index = 0,
        expires_at = excluded.expires_at,
        updated_at = now();
  return jsonb_build_object('online', p_online, 'expiresAt', v_expires);
end
$$;

revoke execute on function public.realtime_presence_heartbeat(text, boolean, integer)
  from public, anon, authenticated;
grant execute on function public.realtime_presence_heartbeat(text, boolean, integer)
  to service_role;

-- Cleanup also drops heartbeat rows that expired longer ago than the retention.
create or replace function public.realtime_presence_cleanup(p_retention_seconds double precision)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_deliveries integer;
  v_rows integer;
begin
  if p_retention_seconds is null or p_retention_seconds < 600 then
    raise exception 'retention must be at least 600 seconds' using errcode = '22023';
  end if;
  delete from public.realtime_webhook_deliveries
  where received_at < now() - make_interval(secs => p_retention_seconds);
  get diagnostics v_deliveries = row_count;
  delete from public.realtime_presence
  where (not present or expires_at < now())
    and updated_at < now() - make_interval(secs => p_retention_seconds);
  get diagnostics v_rows = row_count;
  return v_deliveries + v_rows;
end
$$;

revoke execute on function public.realtime_presence_cleanup(double precision)
  from public, anon, authenticated;
grant execute on function public.realtime_presence_cleanup(double precision) to service_role;
