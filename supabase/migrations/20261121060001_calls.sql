-- Calls: one row per phone call (inbound through a call number, outbound through calls.start),
-- written only by service-role functions:
--
--   calls_incoming        the voice webhook: the row of a provider call sid (created once for an
--                         inbound call; an outbound call's row learns its sid here)
--   calls_create_outbound calls.start, before the provider is asked to dial
--   calls_place_failed    the provider refused to dial
--   calls_status          status callbacks: a status only ever moves forward
--                         (queued < initiated < ringing < in-progress < terminal), so callbacks
--                         arriving late or twice change nothing
--   calls_finish          the voice bridge, once per call: transcript, outcome, summary, and the
--                         `call-ended` event on private-user-{owner} (outbox, same transaction);
--                         a repeat (a retry whose first attempt committed) returns the same event
--
-- Users read their own calls (RLS); nobody but the service role writes.

create table public.calls (
  id uuid primary key default gen_random_uuid(),
  owner_id text not null check (char_length(owner_id) between 1 and 128),
  provider text not null check (provider in ('signalwire', 'twilio')),
  provider_call_sid text check (char_length(provider_call_sid) between 1 and 64),
  direction text not null check (direction in ('inbound', 'outbound')),
  from_number text not null check (char_length(from_number) between 1 and 64),
  to_number text not null check (char_length(to_number) between 1 and 64),
  status text not null default 'queued' check (status in (
    'queued', 'initiated', 'ringing', 'in-progress',
    'completed', 'busy', 'no-answer', 'failed', 'canceled'
  )),
  goal text not null default '' check (char_length(goal) <= 2000),
  context jsonb not null default '{}'::jsonb
    check (jsonb_typeof(context) = 'object' and octet_length(context::text) <= 4096),
  transcript jsonb not null default '[]'::jsonb
    check (jsonb_typeof(transcript) = 'array' and octet_length(transcript::text) <= 1000000),
  outcome text check (outcome in ('goal_achieved', 'not_interested', 'callback_requested')),
  outcome_notes text check (char_length(outcome_notes) <= 2000),
  summary text check (char_length(summary) <= 8000),
  end_reason text check (end_reason ~ '^[a-z_]{1,64}$'),
  stats jsonb not null default '{}'::jsonb check (jsonb_typeof(stats) = 'object'),
  duration_s integer check (duration_s >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  answered_at timestamptz,
  stream_started_at timestamptz,
  ended_at timestamptz,
  finished_at timestamptz,
  ended_event_id bigint,
  unique (provider, provider_call_sid)
);

create index calls_owner_created_idx on public.calls (owner_id, created_at desc, id);

alter table public.calls enable row level security;

create policy "calls: users read their own"
  on public.calls for select to authenticated
  using (owner_id = (select auth.jwt() ->> 'sub'));

create trigger calls_touch_updated_at
  before update on public.calls
  for each row execute function public.touch_updated_at();

revoke all on public.calls from anon, authenticated;
grant select on public.calls to authenticated;
grant select, insert, update, delete on public.calls to service_role;

-- Progress order of a status; every terminal status ranks 4 (nothing moves a call out of one).
create or replace function public.call_status_rank(p_status text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select case p_status
    when 'queued' then 0
    when 'initiated' then 1
    when 'ringing' then 2
    when 'in-progress' then 3
    when 'completed' then 4
    when 'busy' then 4
    when 'no-answer' then 4
    when 'failed' then 4
    when 'canceled' then 4
  end
$$;

-- Move a (locked) call forward to p_status; never backwards, never out of a terminal status.
create or replace function public.call_advance(
  p_call public.calls, p_status text, p_duration_s integer
)
returns public.calls
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_rank integer := public.call_status_rank(p_status);
  v_call public.calls;
begin
  if v_rank is null then
    raise exception 'unknown call status: %', left(p_status, 40) using errcode = '22023';
  end if;
  update public.calls c set
    status = case when v_rank > public.call_status_rank(c.status) then p_status else c.status end,
    answered_at = case
      when p_status = 'in-progress' and c.answered_at is null then now() else c.answered_at end,
    ended_at = case when v_rank = 4 then coalesce(c.ended_at, now()) else c.ended_at end,
    duration_s = case
      when v_rank = 4 and p_duration_s is not null then p_duration_s else c.duration_s end
  where c.id = p_call.id
  returning * into v_call;
  return v_call;
end
$$;

create or replace function public.calls_incoming(
  p_provider text,
  p_call_sid text,
  p_from text,
  p_to text,
  p_status text,
  p_call_id uuid default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_call public.calls;
  v_number public.call_numbers;
  v_created boolean := false;
begin
  if p_call_id is not null then
    -- an outbound call answered: its row exists (calls.start) and learns its sid here
    select * into v_call from public.calls
      where id = p_call_id and provider = p_provider and direction = 'outbound' for update;
    if not found or coalesce(v_call.provider_call_sid, p_call_sid) <> p_call_sid then
      return jsonb_build_object('call', null, 'created', false);
    end if;
    update public.calls set provider_call_sid = p_call_sid where id = v_call.id
      returning * into v_call;
  else
    select * into v_call from public.calls
      where provider = p_provider and provider_call_sid = p_call_sid for update;
    if not found then
      select * into v_number from public.call_numbers where number = p_to;
      if not found then
        return jsonb_build_object('call', null, 'created', false);
      end if;
      insert into public.calls (
        owner_id, provider, provider_call_sid, direction, from_number, to_number, goal, context
      )
      values (
        v_number.owner_id, p_provider, p_call_sid, 'inbound', p_from, p_to,
        v_number.goal, v_number.context
      )
      on conflict (provider, provider_call_sid) do nothing
      returning * into v_call;
      v_created := v_call.id is not null;
      if not v_created then  -- a concurrent delivery of the same webhook inserted it first
        select * into v_call from public.calls
          where provider = p_provider and provider_call_sid = p_call_sid for update;
      end if;
    end if;
  end if;
  v_call := public.call_advance(v_call, coalesce(p_status, 'in-progress'), null);
  return jsonb_build_object('call', to_jsonb(v_call), 'created', v_created);
end
$$;

create or replace function public.calls_create_outbound(
  p_owner text, p_provider text, p_from text, p_to text, p_goal text, p_context jsonb
)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  insert into public.calls (owner_id, provider, direction, from_number, to_number, goal, context)
  values (p_owner, p_provider, 'outbound', p_from, p_to, p_goal, coalesce(p_context, '{}'))
  returning to_jsonb(calls.*)
$$;

create or replace function public.calls_place_failed(p_call_id uuid, p_reason text)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  update public.calls set
    status = 'failed',
    end_reason = 'provider_error',
    outcome_notes = left(p_reason, 2000),
    ended_at = coalesce(ended_at, now())
  where id = p_call_id and status = 'queued'
  returning to_jsonb(calls.*)
$$;

create or replace function public.calls_status(
  p_provider text,
  p_call_sid text,
  p_status text,
  p_duration_s integer default null,
  p_call_id uuid default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_call public.calls;
begin
  if p_call_id is not null then
    -- an outbound call's callbacks may beat calls.start's reply with the sid
    select * into v_call from public.calls
      where id = p_call_id and provider = p_provider for update;
    if not found or coalesce(v_call.provider_call_sid, p_call_sid) <> p_call_sid then
      return null;
    end if;
    if v_call.provider_call_sid is null then
      update public.calls set provider_call_sid = p_call_sid where id = v_call.id
        returning * into v_call;
    end if;
  else
    select * into v_call from public.calls
      where provider = p_provider and provider_call_sid = p_call_sid for update;
    if not found then
      return null;
    end if;
  end if;
  v_call := public.call_advance(v_call, p_status, p_duration_s);
  return to_jsonb(v_call);
end
$$;

create or replace function public.calls_finish(
  p_call_id uuid,
  p_transcript jsonb,
  p_outcome text,
  p_outcome_notes text,
  p_summary text,
  p_end_reason text,
  p_started_at timestamptz,
  p_ended_at timestamptz,
  p_stats jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_call public.calls;
  v_event bigint;
begin
  select * into v_call from public.calls where id = p_call_id for update;
  if not found then
    raise exception 'unknown call %', p_call_id using errcode = 'P0002';
  end if;
  if v_call.finished_at is not null then
    return jsonb_build_object(
      'call', to_jsonb(v_call),
      'events', public.outbox_rows(array[v_call.ended_event_id]),
      'duplicate', true
    );
  end if;
  update public.calls c set
    transcript = coalesce(p_transcript, '[]'::jsonb),
    outcome = p_outcome,
    outcome_notes = p_outcome_notes,
    summary = p_summary,
    end_reason = p_end_reason,
    stats = coalesce(p_stats, '{}'::jsonb),
    stream_started_at = p_started_at,
    ended_at = coalesce(c.ended_at, p_ended_at),
    duration_s = coalesce(
      c.duration_s, greatest(0, ceil(extract(epoch from p_ended_at - p_started_at)))::integer
    ),
    status = case when public.call_status_rank(c.status) = 4 then c.status else 'completed' end,
    finished_at = now()
  where c.id = p_call_id
  returning * into v_call;
  v_event := public.outbox_enqueue(
    'private-user-' || v_call.owner_id,
    'call-ended',
    jsonb_build_object('call', jsonb_build_object(
      'id', v_call.id,
      'direction', v_call.direction,
      'status', v_call.status,
      'fromNumber', v_call.from_number,
      'toNumber', v_call.to_number,
      'outcome', v_call.outcome,
      'summary', left(v_call.summary, 2000),
      'durationS', v_call.duration_s,
      'endReason', v_call.end_reason,
      'endedAt', v_call.ended_at
    ))
  );
  update public.calls set ended_event_id = v_event where id = v_call.id returning * into v_call;
  return jsonb_build_object(
    'call', to_jsonb(v_call),
    'events', public.outbox_rows(array[v_event]),
    'duplicate', false
  );
end
$$;

revoke execute on function public.call_status_rank(text) from public, anon, authenticated;
revoke execute on function public.call_advance(public.calls, text, integer)
  from public, anon, authenticated;
revoke execute on function public.calls_incoming(text, text, text, text, text, uuid)
  from public, anon, authenticated;
revoke execute on function public.calls_create_outbound(text, text, text, text, text, jsonb)
  from public, anon, authenticated;
revoke execute on function public.calls_place_failed(uuid, text) from public, anon, authenticated;
revoke execute on function public.calls_status(text, text, text, integer, uuid)
  from public, anon, authenticated;
revoke execute on function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb
) from public, anon, authenticated;

grant execute on function public.call_status_rank(text) to service_role;
grant execute on function public.call_advance(public.calls, text, integer) to service_role;
grant execute on function public.calls_incoming(text, text, text, text, text, uuid)
  to service_role;
grant execute on function public.calls_create_outbound(text, text, text, text, text, jsonb)
  to service_role;
grant execute on function public.calls_place_failed(uuid, text) to service_role;
grant execute on function public.calls_status(text, text, text, integer, uuid) to service_role;
grant execute on function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb
) to service_role;
