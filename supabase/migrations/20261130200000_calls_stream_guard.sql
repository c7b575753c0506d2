-- Calls: what the voice bridge needs to refuse replayed streams, keep records PostgREST refuses,
-- and say which kind of summary a call has. All service role only:
--
--   calls.stream_id          the bridge's id for the one media stream a call may have; set once,
--                            by calls_stream_start
--   calls_stream_start       the bridge, on a stream's `start`: claims the call for that stream,
--                            atomically; refused for an unknown or terminal (completed, busy,
--                            no-answer, failed, canceled) or finished call, or one whose stream
--                            already started. A retry with the same stream id is accepted (the
--                            first answer may have been lost). A replayed voice webhook mints a
--                            fresh stream token, but the call's stream can start only once.
--   calls.summary_kind       'ai' (a model wrote it) or 'extractive' (quoted from the transcript)
--   calls_finish             replaced: takes p_summary_kind (the 9-argument form is dropped)
--   calls_dead_letters       a finished call's record that calls_finish refused for good (a
--                            constraint, an unknown call): kept with the error, never only logged
--   calls_dead_letter        the bridge writes one

alter table public.calls
  add column stream_id text check (char_length(stream_id) between 1 and 64),
  add column summary_kind text check (summary_kind in ('extractive', 'ai'));

create table public.calls_dead_letters (
  id bigint generated always as identity primary key,
  call_id uuid,
  payload jsonb not null,
  error text not null check (char_length(error) <= 4000),
  created_at timestamptz not null default now()
);

create index calls_dead_letters_created_idx on public.calls_dead_letters (created_at);

-- no policies: nobody but the service role reads or writes it
alter table public.calls_dead_letters enable row level security;

revoke all on public.calls_dead_letters from anon, authenticated;
grant select, insert, delete on public.calls_dead_letters to service_role;

create or replace function public.calls_stream_start(p_call_id uuid, p_stream_id text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_call public.calls;
begin
  if p_stream_id is null or char_length(p_stream_id) not between 1 and 64 then
    raise exception 'a stream id is 1 to 64 characters' using errcode = '22023';
  end if;
  select * into v_call from public.calls where id = p_call_id for update;
  if not found then
    return jsonb_build_object('started', false, 'reason', 'unknown', 'call', null);
  end if;
  if v_call.stream_id = p_stream_id then  -- a retry whose first attempt committed
    return jsonb_build_object('started', true, 'reason', null, 'call', to_jsonb(v_call));
  end if;
  if public.call_status_rank(v_call.status) = 4 or v_call.finished_at is not null then
    return jsonb_build_object('started', false, 'reason', 'finished', 'call', null);
  end if;
  if v_call.stream_id is not null then
    return jsonb_build_object('started', false, 'reason', 'already_started', 'call', null);
  end if;
  update public.calls set stream_id = p_stream_id, stream_started_at = now()
    where id = p_call_id
    returning * into v_call;
  return jsonb_build_object('started', true, 'reason', null, 'call', to_jsonb(v_call));
end
$$;

create or replace function public.calls_dead_letter(
  p_call_id uuid, p_payload jsonb, p_error text
)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
  insert into public.calls_dead_letters (call_id, payload, error)
  values (p_call_id, coalesce(p_payload, 'null'::jsonb), left(coalesce(p_error, ''), 4000))
  returning id
$$;

drop function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb
);

create function public.calls_finish(
  p_call_id uuid,
  p_transcript jsonb,
  p_outcome text,
  p_outcome_notes text,
  p_summary text,
  p_end_reason text,
  p_started_at timestamptz,
  p_ended_at timestamptz,
  p_stats jsonb,
  p_summary_kind text default null
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
    summary_kind = case when p_summary is null then null else p_summary_kind end,
    end_reason = p_end_reason,
    stats = coalesce(p_stats, '{}'::jsonb),
    stream_started_at = coalesce(c.stream_started_at, p_started_at),
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
      'summaryKind', v_call.summary_kind,
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

revoke execute on function public.calls_stream_start(uuid, text) from public, anon, authenticated;
revoke execute on function public.calls_dead_letter(uuid, jsonb, text)
  from public, anon, authenticated;
revoke execute on function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb, text
) from public, anon, authenticated;

grant execute on function public.calls_stream_start(uuid, text) to service_role;
grant execute on function public.calls_dead_letter(uuid, jsonb, text) to service_role;
grant execute on function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb, text
) to service_role;
