-- Call recordings: where each finished call's audio is (S3-compatible storage: Supabase
-- Storage's S3 endpoint, any S3), or why it is missing. Service role writes; owners read
-- through the existing "calls: users read their own" policy (the object itself only through a
-- short-lived presigned URL from calls.recording).
--
--   calls.recording_status       stored | failed | off | empty | deleted (null: finished before
--                                recordings existed, or not finished)
--   calls.recording_key          the object's key in STORAGE_S3_BUCKET, while it is stored
--   calls.recording_error        why there is no audio (the upload's last error, "off", ...)
--   calls.recording_duration_ms  the WAV's length
--   calls_finish                 replaced: takes p_recording (the 10-argument form is dropped)
--                                {"status", "key"?, "durationMs"?, "error"?}; the bridge uploads
--                                first, so a stored key always names an object
--   calls_recordings_expired     the retention job: stored recordings of calls that ended before
--                                p_before (oldest first, at most p_limit)
--   calls_recordings_deleted     the retention job, after deleting the objects: marks them

alter table public.calls
  add column recording_status text
    check (recording_status in ('stored', 'failed', 'off', 'empty', 'deleted')),
  add column recording_key text check (char_length(recording_key) between 1 and 1024),
  add column recording_error text check (char_length(recording_error) <= 1000),
  add column recording_duration_ms integer check (recording_duration_ms >= 0),
  add constraint calls_recording_stored_has_key
    check ((recording_status = 'stored') = (recording_key is not null));

create index calls_recordings_stored_idx on public.calls (ended_at)
  where recording_status = 'stored';

drop function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb, text
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
  p_summary_kind text default null,
  p_recording jsonb default null
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
    recording_status = p_recording ->> 'status',
    recording_key = case when p_recording ->> 'status' = 'stored'
      then p_recording ->> 'key' end,
    recording_error = left(p_recording ->> 'error', 1000),
    recording_duration_ms = case when p_recording ->> 'status' = 'stored'
      then (p_recording ->> 'durationMs')::integer end,
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

create function public.calls_recordings_expired(p_before timestamptz, p_limit integer)
returns table (id uuid, recording_key text)
language sql
stable
security definer
set search_path = ''
as $$
  select c.id, c.recording_key
  from public.calls c
  where c.recording_status = 'stored' and c.ended_at < p_before
  order by c.ended_at
  limit least(greatest(coalesce(p_limit, 0), 0), 1000)
$$;

create function public.calls_recordings_deleted(p_ids uuid[])
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with marked as (
    update public.calls c set
      recording_status = 'deleted',
      recording_key = null,
      recording_error = 'deleted after RECORDING_RETENTION_DAYS'
    where c.id = any(p_ids) and c.recording_status = 'stored'
    returning 1
  )
  select count(*)::integer from marked
$$;

revoke execute on function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb, text, jsonb
) from public, anon, authenticated;
revoke execute on function public.calls_recordings_expired(timestamptz, integer)
  from public, anon, authenticated;
revoke execute on function public.calls_recordings_deleted(uuid[])
  from public, anon, authenticated;

grant execute on function public.calls_finish(
  uuid, jsonb, text, text, text, text, timestamptz, timestamptz, jsonb, text, jsonb
) to service_role;
grant execute on function public.calls_recordings_expired(timestamptz, integer) to service_role;
grant execute on function public.calls_recordings_deleted(uuid[]) to service_role;
