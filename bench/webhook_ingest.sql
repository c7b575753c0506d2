-- bench.webhook_ingest's processor (never a migration): a paid invoice -> two realtime events,
-- queued in the ingest transaction.
create or replace function public.bench_webhook_apply(p_event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_invoice jsonb := p_event -> 'data' -> 'object';
  v_paid bigint;
  v_revenue bigint;
begin
  v_paid := public.outbox_enqueue(
    'private-user-' || (v_invoice ->> 'customer'), 'payment-received', v_invoice
  );
  v_revenue := public.outbox_enqueue(
    'private-location-' || (v_invoice ->> 'location'), 'revenue-update', v_invoice
  );
  return jsonb_build_object('events', public.outbox_rows(array[v_paid, v_revenue]));
end
$$;
revoke execute on function public.bench_webhook_apply(jsonb) from public, anon, authenticated;
grant execute on function public.bench_webhook_apply(jsonb) to service_role;
