-- Test-only webhook processor (never a migration): records each event it applies and queues a
-- `webhook-applied` event on private-user-{payload.user}; fails while a provider is listed in
-- test_webhook_outages (a processing failure the cron then retries).
create table if not exists public.test_webhook_effects (
  id bigint generated always as identity primary key,
  event jsonb not null
);
create table if not exists public.test_webhook_outages (provider text primary key);

create or replace function public.test_webhook_apply(p_event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event bigint;
begin
  if exists (select 1 from public.test_webhook_outages where provider = p_event ->> 'source') then
    raise exception 'the downstream of % is down', p_event ->> 'source';
  end if;
  insert into public.test_webhook_effects (event) values (p_event);
  v_event := public.outbox_enqueue(
    'private-user-' || coalesce(p_event ->> 'user', 'nobody'), 'webhook-applied',
    jsonb_build_object('id', p_event ->> 'id')
  );
  return jsonb_build_object('applied', true, 'events', public.outbox_rows(array[v_event]));
end
$$;

revoke execute on function public.test_webhook_apply(jsonb) from public, anon, authenticated;
grant execute on function public.test_webhook_apply(jsonb) to service_role;
