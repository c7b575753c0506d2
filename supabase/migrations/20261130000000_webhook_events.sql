-- Webhook events: every verified delivery of every provider, stored and applied in ONE
-- transaction (lib/webhooks/ingest.py is the only caller).
--
--   webhook_ingest(provider, event_id, type, payload, processor)
--       insert (provider, event_id) -- unique: a redelivery is a duplicate that changes
--       nothing -- then run the processor, `public.<processor>(p_event jsonb) returns jsonb`,
--       in a subtransaction: its state changes and outbox rows commit with the event row, or
--       roll back alone while the event is kept as `failed` with the error. No processor (an
--       event type nobody handles) = stored as `ignored`.
--       A redelivery of a `failed` event is a retry: processed again now.
--   webhook_retry_due(limit, max_attempts)   the `webhooks-retry` cron: failed events whose
--       backoff has passed (1, 2, 4, ... minutes, at most 6 h) are processed again; after
--       max_attempts they are `parked` (an operator replays them).
--   webhook_replay(id, max_attempts)  an operator re-runs one failed/parked event now.
--   webhook_events_list(...)          the operator's view, newest first.
-- A processor returns `{"events": [outbox rows], ...}` like every command; the rest of its
-- result is stored in `result` (a voice webhook's retry answers from it).

create table public.webhook_events (
  id bigint generated always as identity primary key,
  provider text not null check (provider ~ '^[a-z][a-z0-9_-]{0,39}$'),
  event_id text not null check (char_length(event_id) between 1 and 255),
  type text not null default '' check (char_length(type) <= 200),
  processor text check (processor ~ '^[a-z][a-z0-9_]{0,62}$'),
  payload jsonb not null,
  status text not null default 'received'
    check (status in ('received', 'processed', 'ignored', 'failed', 'parked')),
  attempts integer not null default 0,
  error text,
  result jsonb,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  next_attempt_at timestamptz,
  unique (provider, event_id)
);

create index webhook_events_due_idx on public.webhook_events (next_attempt_at)
  where status = 'failed';
create index webhook_events_status_idx on public.webhook_events (status, id desc);

alter table public.webhook_events enable row level security;
-- No policies: only the service role (which bypasses RLS) reads or writes webhook events.
revoke all on public.webhook_events from public, anon, authenticated;
grant select, insert, update, delete on public.webhook_events to service_role;

create or replace function private.webhook_process(p_id bigint, p_max_attempts integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_event public.webhook_events;
  v_result jsonb;
  v_error text;
  v_state text;
  v_status text;
begin
  select * into v_event from public.webhook_events where id = p_id for update;
  if v_event.processor is null then
    update public.webhook_events
      set status = 'ignored', processed_at = now(), next_attempt_at = null
      where id = p_id;
    return jsonb_build_object('id', p_id, 'status', 'ignored', 'events', '[]'::jsonb);
  end if;
  begin
    execute format('select public.%I($1)', v_event.processor) into v_result
      using v_event.payload;
  exception when others then
    get stacked diagnostics v_error = message_text, v_state = returned_sqlstate;
  end;
  if v_error is null then
    update public.webhook_events
      set status = 'processed', attempts = attempts + 1, processed_at = now(), error = null,
          result = coalesce(v_result, '{}'::jsonb) - 'events', next_attempt_at = null
      where id = p_id;
    return jsonb_build_object(
      'id', p_id,
      'status', 'processed',
      'result', coalesce(v_result, '{}'::jsonb) - 'events',
      'events', coalesce(v_result -> 'events', '[]'::jsonb)
    );
  end if;
  v_status := case when v_event.attempts + 1 >= p_max_attempts then 'parked' else 'failed' end;
  update public.webhook_events
    set status = v_status,
        attempts = attempts + 1,
        error = left(v_state || ': ' || v_error, 2000),
        next_attempt_at = case when v_status = 'failed'
          then now() + least(power(2, v_event.attempts), 360) * interval '1 minute' end
    where id = p_id;
  return jsonb_build_object(
    'id', p_id, 'status', v_status, 'error', v_state || ': ' || v_error, 'events', '[]'::jsonb
  );
end
$$;

create or replace function public.webhook_ingest(
  p_provider text,
  p_event_id text,
  p_type text,
  p_payload jsonb,
  p_processor text,
  p_max_attempts integer default 8
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_id bigint;
  v_event public.webhook_events;
begin
  insert into public.webhook_events (provider, event_id, type, processor, payload)
    values (p_provider, p_event_id, coalesce(p_type, ''), p_processor, p_payload)
    on conflict (provider, event_id) do nothing
    returning id into v_id;
  if v_id is null then
    -- A concurrent first delivery has committed by now (the unique index waited for it).
    select * into v_event from public.webhook_events
      where provider = p_provider and event_id = p_event_id for update;
    if v_event.status = 'failed' then
      return private.webhook_process(v_event.id, p_max_attempts)
        || jsonb_build_object('duplicate', false, 'retried', true);
    end if;
    return jsonb_build_object(
      'id', v_event.id, 'duplicate', true, 'status', v_event.status,
      'result', v_event.result, 'events', '[]'::jsonb
    );
  end if;
  return private.webhook_process(v_id, p_max_attempts) || jsonb_build_object('duplicate', false);
end
$$;

create or replace function public.webhook_retry_due(p_limit integer, p_max_attempts integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_id bigint;
  v_outcome jsonb;
  v_events jsonb := '[]'::jsonb;
  v_counts jsonb := '{"processed": 0, "failed": 0, "parked": 0}'::jsonb;
begin
  for v_id in
    select id from public.webhook_events
      where status = 'failed' and next_attempt_at <= now()
      order by next_attempt_at, id
      limit greatest(p_limit, 0)
      for update skip locked
  loop
    v_outcome := private.webhook_process(v_id, p_max_attempts);
    v_events := v_events || (v_outcome -> 'events');
    v_counts := jsonb_set(
      v_counts, array[v_outcome ->> 'status'],
      to_jsonb(coalesce((v_counts ->> (v_outcome ->> 'status'))::integer, 0) + 1)
    );
  end loop;
  return v_counts || jsonb_build_object('events', v_events);
end
$$;

create or replace function public.webhook_replay(p_id bigint, p_max_attempts integer default 8)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_event public.webhook_events;
begin
  select * into v_event from public.webhook_events where id = p_id for update;
  if not found then
    raise exception 'no webhook event %', p_id using errcode = 'PT404';
  end if;
  if v_event.status not in ('failed', 'parked') then
    raise exception 'webhook event % is %: only failed or parked events are replayed',
      p_id, v_event.status using errcode = 'PT409';
  end if;
  -- A replay gets a fresh budget: an operator asked for it.
  update public.webhook_events set attempts = 0 where id = p_id;
  return private.webhook_process(p_id, p_max_attempts);
end
$$;

create or replace function public.webhook_events_list(
  p_status text default null,
  p_provider text default null,
  p_limit integer default 50,
  p_before bigint default null
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(to_jsonb(e) order by e.id desc), '[]'::jsonb)
  from (
    select id, provider, event_id, type, processor, status, attempts, error, received_at,
           processed_at, next_attempt_at
    from public.webhook_events
    where (p_status is null or status = p_status)
      and (p_provider is null or provider = p_provider)
      and (p_before is null or id < p_before)
    order by id desc
    limit least(greatest(p_limit, 1), 200)
  ) e
$$;

create or replace function public.webhook_events_cleanup(p_retention_days integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with gone as (
    delete from public.webhook_events
    where status in ('processed', 'ignored')
      and received_at < now() - make_interval(days => p_retention_days)
    returning 1
  )
  select count(*)::integer from gone
$$;

revoke execute on function private.webhook_process(bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.webhook_ingest(text, text, text, jsonb, text, integer)
  from public, anon, authenticated;
revoke execute on function public.webhook_retry_due(integer, integer)
  from public, anon, authenticated;
revoke execute on function public.webhook_replay(bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.webhook_events_list(text, text, integer, bigint)
  from public, anon, authenticated;
revoke execute on function public.webhook_events_cleanup(integer)
  from public, anon, authenticated;
grant execute on function public.webhook_ingest(text, text, text, jsonb, text, integer)
  to service_role;
grant execute on function public.webhook_retry_due(integer, integer) to service_role;
grant execute on function public.webhook_replay(bigint, integer) to service_role;
grant execute on function public.webhook_events_list(text, text, integer, bigint)
  to service_role;
grant execute on function public.webhook_events_cleanup(integer) to service_role;

-- Many deliveries in one call (a warm instance ingesting concurrent requests together): each is
-- webhook_ingest as above, in its own subtransaction, so one that cannot even be stored (a
-- malformed id) fails alone. Returns {"outcomes": [per delivery, in order], "events": [...]}.
create or replace function public.webhook_ingest_many(
  p_deliveries jsonb, p_max_attempts integer default 8
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_delivery jsonb;
  v_outcome jsonb;
  v_outcomes jsonb := '[]'::jsonb;
  v_events jsonb := '[]'::jsonb;
  v_error text;
begin
  for v_delivery in select value from jsonb_array_elements(p_deliveries) loop
    begin
      v_outcome := public.webhook_ingest(
        v_delivery ->> 'provider',
        v_delivery ->> 'eventId',
        v_delivery ->> 'type',
        v_delivery -> 'payload',
        v_delivery ->> 'processor',
        p_max_attempts
      );
    exception when others then
      get stacked diagnostics v_error = message_text;
      v_outcome := jsonb_build_object('status', 'refused', 'error', v_error);
    end;
    v_events := v_events || coalesce(v_outcome -> 'events', '[]'::jsonb);
    v_outcomes := v_outcomes || jsonb_build_array(v_outcome - 'events');
  end loop;
  return jsonb_build_object('outcomes', v_outcomes, 'events', v_events);
end
$$;

revoke execute on function public.webhook_ingest_many(jsonb, integer)
  from public, anon, authenticated;
grant execute on function public.webhook_ingest_many(jsonb, integer) to service_role;
