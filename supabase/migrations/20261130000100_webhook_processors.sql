-- Webhook processors of the features that landed before the ingest path
-- (20261130000000_webhook_events): each is `public.<name>(p_event jsonb) returns jsonb`,
-- run by webhook_ingest in the transaction that stores the delivery. They wrap the functions
-- the webhooks called directly before, so behaviour is unchanged:
--   calls_on_incoming             -> calls_incoming   (voice: a call to answer)
--   calls_on_status               -> calls_status     (voice: status callbacks)
--   messaging_on_pusher_presence  -> realtime_presence_apply (Pusher: who is online)
-- Service role only, like every command.

create or replace function public.calls_on_incoming(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  return public.calls_incoming(
    p_event ->> 'provider',
    p_event ->> 'callSid',
    p_event ->> 'from',
    p_event ->> 'to',
    p_event ->> 'status',
    (p_event ->> 'callId')::uuid
  );
end
$$;

create or replace function public.calls_on_status(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  return jsonb_build_object('call', public.calls_status(
    p_event ->> 'provider',
    p_event ->> 'callSid',
    p_event ->> 'status',
    (p_event ->> 'durationS')::integer,
    (p_event ->> 'callId')::uuid
  ));
end
$$;

create or replace function public.messaging_on_pusher_presence(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_changes jsonb := coalesce(p_event -> 'changes', '[]'::jsonb);
begin
  if jsonb_array_length(v_changes) = 0 then
    return jsonb_build_object('applied', 0);
  end if;
  -- The delivery is deduped by webhook_events; the digest only keys presence bookkeeping
  -- (realtime_webhook_deliveries.digest is 64 hex characters: a SHA-256).
  return public.realtime_presence_apply(
    encode(sha256(convert_to(p_event::text, 'UTF8')), 'hex'),
    (p_event ->> 'timeMs')::bigint,
    v_changes
  );
end
$$;

revoke execute on function public.calls_on_incoming(jsonb) from public, anon, authenticated;
revoke execute on function public.calls_on_status(jsonb) from public, anon, authenticated;
revoke execute on function public.messaging_on_pusher_presence(jsonb)
  from public, anon, authenticated;
grant execute on function public.calls_on_incoming(jsonb) to service_role;
grant execute on function public.calls_on_status(jsonb) to service_role;
grant execute on function public.messaging_on_pusher_presence(jsonb) to service_role;
