-- Who is online, as the realtime provider's webhooks say (POST /api/webhooks/pusher,
-- lib/features/messaging/presence.py). A user is online while some row of theirs is present:
--
--   channel_occupied / channel_vacated   private-user-{id}     (their own channel)
--   member_added / member_removed        presence-*            (any presence channel)
--
-- The api function verifies the signature, turns the events into changes
-- [{"user", "channel", "present"}] and calls public.realtime_presence_apply() once per delivery:
--   - idempotent: a delivery is recorded by the SHA-256 of its raw body; the same delivery
--     again (a provider retry) changes nothing;
--   - ordered: each row keeps the (time_ms, index) of the event that last set it, and an older
--     event never overwrites a newer one (webhooks may arrive late or out of order).
-- private.is_user_online() is what messaging_send asks before queuing an offline notification.
-- Service role only: RLS on, no policies. The `cleanup` cron drops old deliveries and rows
-- that are not present (public.realtime_presence_cleanup).

create table public.realtime_presence (
  user_id text not null check (char_length(user_id) between 1 and 128),
  channel text not null check (char_length(channel) between 1 and 200),
  present boolean not null,
  event_time_ms bigint not null,
  event_index integer not null check (event_index >= 0),
  updated_at timestamptz not null default now(),
  primary key (user_id, channel)
);

create index realtime_presence_present_user_id_idx
  on public.realtime_presence (user_id) where present;

create table public.realtime_webhook_deliveries (
  digest text primary key check (digest ~ '^[0-9a-f]{64}$'),
  time_ms bigint not null,
  received_at timestamptz not null default now()
);

create index realtime_webhook_deliveries_received_at_idx
  on public.realtime_webhook_deliveries (received_at);

alter table public.realtime_presence enable row level security;
alter table public.realtime_webhook_deliveries enable row level security;

revoke all on public.realtime_presence, public.realtime_webhook_deliveries
  from anon, authenticated;
grant select, insert, update, delete
  on public.realtime_presence, public.realtime_webhook_deliveries to service_role;

create or replace function private.is_user_online(p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.realtime_presence p where p.user_id = p_user_id and p.present
  )
$$;

revoke execute on function private.is_user_online(text) from public, anon, authenticated;
grant execute on function private.is_user_online(text) to service_role;

-- p_changes: [{"user": text, "channel": text, "present": boolean}, ...] in delivery order.
-- Returns {"duplicate": bool, "applied": rows changed}.
create or replace function public.realtime_presence_apply(
  p_digest text, p_time_ms bigint, p_changes jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_applied integer;
begin
  if p_time_ms is null or p_changes is null or jsonb_typeof(p_changes) <> 'array' then
    raise exception 'a delivery needs time_ms and a changes array' using errcode = '22023';
  end if;
  insert into public.realtime_webhook_deliveries (digest, time_ms)
  values (p_digest, p_time_ms)
  on conflict (digest) do nothing;
  if not found then
    return jsonb_build_object('duplicate', true, 'applied', 0);
  end if;
  -- the last change per (user, channel) of this delivery wins; one upsert per key
  with changes as (
    select distinct on (c.value ->> 'user', c.value ->> 'channel')
      c.value ->> 'user' as user_id,
      c.value ->> 'channel' as channel,
      (c.value ->> 'present')::boolean as present,
      (c.ordinality - 1)::integer as event_index
    from jsonb_array_elements(p_changes) with ordinality as c (value, ordinality)
    order by c.value ->> 'user', c.value ->> 'channel', c.ordinality desc
  )
  insert into public.realtime_presence as p (user_id, channel, present, event_time_ms, event_index)
  select c.user_id, c.channel, c.present, p_time_ms, c.event_index
  from changes c
  where c.user_id is not null and c.channel is not null and c.present is not null
  on conflict (user_id, channel) do update
    set present = excluded.present,
        event_time_ms = excluded.event_time_ms,
        event_index = excluded.event_index,
        updated_at = now()
    where (p.event_time_ms, p.event_index) < (excluded.event_time_ms, excluded.event_index);
  get diagnostics v_applied = row_count;
  return jsonb_build_object('duplicate', false, 'applied', v_applied);
end
$$;

revoke execute on function public.realtime_presence_apply(text, bigint, jsonb)
  from public, anon, authenticated;
grant execute on function public.realtime_presence_apply(text, bigint, jsonb) to service_role;

-- Deliveries older than p_retention_seconds (stale deliveries are refused before they get here,
-- so a digest only has to outlive the provider's retries) and rows no longer present.
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
  where not present and updated_at < now() - make_interval(secs => p_retention_seconds);
  get diagnostics v_rows = row_count;
  return v_deliveries + v_rows;
end
$$;

revoke execute on function public.realtime_presence_cleanup(double precision)
  from public, anon, authenticated;
grant execute on function public.realtime_presence_cleanup(double precision) to service_role;
