-- Gap detection for clients: every outbox row names the previous event on its channel
-- (`prev_id`), and every envelope carries it as `prev`. outbox_enqueue() already holds the
-- channel's transaction lock when it inserts, so the previous row is exact: a client that
-- has delivered event n and receives an event whose prev is not n knows it missed something
-- and reads history after n (client/ does this), instead of guessing from global ids, which
-- are shared by every channel and so never contiguous on one.
--
-- A row queued before this migration has no prev (null): clients then fall back to a
-- history read on reconnect only. Cleanup may delete the row prev names; history after n
-- then finds nothing older, which is what the client needs to hear.

alter table public.outbox add column prev_id bigint;

comment on column public.outbox.prev_id is
  'The id of the previous event on the same channel when this one was queued (null: none).';

create or replace function public.outbox_event_json(p_row public.outbox)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_row.id,
    'channel', p_row.channel,
    'event', p_row.event,
    'data', p_row.data,
    'at', to_char(p_row.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'prev', p_row.prev_id
  )
$$;

create or replace function public.outbox_enqueue(p_channel text, p_event text, p_data jsonb)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_backlog boolean;
  v_prev bigint;
  v_id bigint;
begin
  if p_channel is null or p_channel !~ '^[-a-zA-Z0-9_=@,.;]{1,200}$' then
    raise exception 'invalid channel name: %', left(p_channel, 210) using errcode = '22023';
  end if;
  if p_event is null or p_event !~ '^[a-z0-9]+(-[a-z0-9]+)*$' or char_length(p_event) > 200 then
    raise exception 'invalid event name (kebab-case): %', left(p_event, 210)
      using errcode = '22023';
  end if;
  -- one writer per channel at a time until commit: ids on a channel commit in order, and the
  -- newest row of the channel read below is the previous event
  perform pg_advisory_xact_lock(hashtextextended('outbox:' || p_channel, 0));
  select exists (
    select 1 from public.outbox o
    where o.channel = p_channel
      and o.published_at is null
      and o.next_attempt_at < 'infinity'
      and (o.attempts > 0 or o.next_attempt_at <= now())
  ) into v_backlog;
  select max(o.id) from public.outbox o where o.channel = p_channel into v_prev;
  insert into public.outbox (channel, event, data, next_attempt_at, prev_id)
  values (
    p_channel,
    p_event,
    coalesce(p_data, '{}'::jsonb),
    case when v_backlog then now() else now() + interval '5 seconds' end,
    v_prev
  )
  returning id into v_id;
  return v_id;
end
$$;

revoke execute on function public.outbox_enqueue(text, text, jsonb) from public, anon, authenticated;
grant execute on function public.outbox_enqueue(text, text, jsonb) to service_role;

-- Where a new subscriber starts: the newest event id on a channel (0 when none), so a client
-- that subscribes "from now" still has a position to catch up from after a disconnect.
create or replace function public.outbox_latest(p_channel text)
returns bigint
language sql
stable
set search_path = ''
as $$
  select coalesce(max(o.id), 0) from public.outbox o where o.channel = p_channel
$$;

revoke execute on function public.outbox_latest(text) from public, anon, authenticated;
grant execute on function public.outbox_latest(text) to service_role;
