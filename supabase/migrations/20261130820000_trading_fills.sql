-- Trading: fills (executions), one row per (connection, broker fill id), from trading.sync
-- fetches (Alpaca GET /v2/account/activities/FILL, Tradovate /fill/list) and signed webhook
-- pushes ({"fills": [...]}).
--
--   trading_fills               immutable: a fill already stored is never rewritten, so a
--                               refetch or a redelivered push inserts and publishes nothing
--   trading_on_broker_event,    now also store the update's fills (private.trading_apply_fills)
--   trading_sync_apply          and publish one `fill` event per NEW fill on
--                               private-user-{owner}, in the same transaction; their answer's
--                               `changed` gains `fills`
--   trading_fills(user, since, after, limit)   delta query on (created_at, id): {fills, next}
--   trading_fills_cleanup(days) delete fills executed (filled_at) more than `days` ago (the
--                               weekly `cleanup-old-logs` cron, TRADING_FILLS_RETENTION_DAYS)
-- RLS: owners read their own rows; nobody writes but the service role.

create table public.trading_fills (
  id bigint generated always as identity unique,
  connection_id uuid not null references public.trading_connections (id) on delete cascade,
  user_id text not null,
  broker_fill_id text not null check (char_length(broker_fill_id) between 1 and 128),
  broker_order_id text check (char_length(broker_order_id) between 1 and 128),
  symbol text not null check (char_length(symbol) between 1 and 64),
  side text not null check (side in ('buy', 'sell')),
  qty numeric not null,
  price numeric not null,
  filled_at timestamptz not null,
  created_at timestamptz not null default now(),
  primary key (connection_id, broker_fill_id)
);

create index trading_fills_delta_idx on public.trading_fills (user_id, created_at, id);
create index trading_fills_filled_at_idx on public.trading_fills (filled_at);

alter table public.trading_fills enable row level security;

create policy "trading_fills: users read their own"
  on public.trading_fills for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.trading_fills from anon, authenticated;
grant select on public.trading_fills to authenticated;
grant select, insert, update, delete on public.trading_fills to service_role;

create or replace function private.trading_fill_json(p_row public.trading_fills)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'connectionId', p_row.connection_id, 'id', p_row.broker_fill_id,
    'orderId', p_row.broker_order_id, 'symbol', p_row.symbol, 'side', p_row.side,
    'qty', p_row.qty, 'price', p_row.price, 'filledAt', p_row.filled_at,
    'receivedAt', p_row.created_at
  )
$$;

-- {count, ids}: the update's fills not stored yet, inserted, each queued as a `fill` event.
create or replace function private.trading_apply_fills(p_connection uuid, p_update jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_conn public.trading_connections;
  v_item jsonb;
  v_fill public.trading_fills;
  v_ids bigint[] := '{}';
  v_count integer := 0;
begin
  select * into v_conn from public.trading_connections where id = p_connection for share;
  if not found then
    raise exception 'no such connection' using errcode = 'P0002';
  end if;
  for v_item in
    select value from jsonb_array_elements(coalesce(p_update -> 'fills', '[]'::jsonb))
  loop
    v_fill := null;
    insert into public.trading_fills (
      connection_id, user_id, broker_fill_id, broker_order_id, symbol, side, qty, price,
      filled_at
    ) values (
      p_connection, v_conn.user_id, v_item ->> 'id', v_item ->> 'orderId',
      v_item ->> 'symbol', v_item ->> 'side', (v_item ->> 'qty')::numeric,
      (v_item ->> 'price')::numeric, (v_item ->> 'filledAt')::timestamptz
    )
    on conflict (connection_id, broker_fill_id) do nothing
    returning * into v_fill;
    if v_fill.id is not null then
      v_count := v_count + 1;
      v_ids := v_ids || public.outbox_enqueue(
        'private-user-' || v_conn.user_id, 'fill',
        jsonb_build_object('broker', v_conn.broker, 'fill', private.trading_fill_json(v_fill)));
    end if;
  end loop;
  return jsonb_build_object('count', v_count, 'ids', to_jsonb(v_ids));
end
$$;

-- positions/orders/balance (private.trading_apply, 20261130800200), then fills; one answer.
create or replace function private.trading_apply_all(
  p_connection uuid, p_update jsonb, p_source text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_result jsonb;
  v_fills jsonb;
  v_ids bigint[];
begin
  v_result := private.trading_apply(p_connection, p_update, p_source);
  v_fills := private.trading_apply_fills(p_connection, p_update);
  select coalesce(array_agg(value::bigint), '{}') into v_ids
  from jsonb_array_elements_text(v_fills -> 'ids');
  return jsonb_set(
    jsonb_set(v_result, '{changed,fills}', v_fills -> 'count'),
    '{events}',
    coalesce(v_result -> 'events', '[]'::jsonb) || coalesce(public.outbox_rows(v_ids), '[]'::jsonb)
  );
end
$$;

create or replace function public.trading_on_broker_event(p_event jsonb)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  select private.trading_apply_all((p_event ->> 'connectionId')::uuid, p_event, 'webhook')
$$;

create or replace function public.trading_sync_apply(p_connection uuid, p_update jsonb)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  select private.trading_apply_all(p_connection, p_update, 'sync')
$$;

create or replace function public.trading_fills(
  p_user text, p_since timestamptz, p_after bigint, p_limit integer
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with page as (
    select f.* from public.trading_fills f
    where f.user_id = p_user
      and (p_since is null
        or (p_after is null and f.created_at > p_since)
        or (f.created_at, f.id) > (p_since, p_after))
    order by f.created_at, f.id
    limit p_limit + 1
  ), shown as (
    select * from page order by created_at, id limit p_limit
  )
  select jsonb_build_object(
    'fills', coalesce(
      (select jsonb_agg(private.trading_fill_json(s::public.trading_fills)
        order by s.created_at, s.id) from shown s), '[]'::jsonb),
    'next', case when (select count(*) from page) > p_limit then (
      select jsonb_build_object('since', s.created_at, 'after', s.id)
      from shown s order by s.created_at desc, s.id desc limit 1
    ) end
  )
$$;

create or replace function public.trading_fills_cleanup(p_retention_days integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with gone as (
    delete from public.trading_fills
    where filled_at < now() - make_interval(days => p_retention_days)
    returning 1
  )
  select count(*)::integer from gone
$$;

revoke execute on function private.trading_fill_json(public.trading_fills)
  from public, anon, authenticated;
revoke execute on function private.trading_apply_fills(uuid, jsonb)
  from public, anon, authenticated;
revoke execute on function private.trading_apply_all(uuid, jsonb, text)
  from public, anon, authenticated;
revoke execute on function public.trading_fills(text, timestamptz, bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.trading_fills_cleanup(integer) from public, anon, authenticated;
grant execute on function private.trading_fill_json(public.trading_fills) to service_role;
grant execute on function private.trading_apply_fills(uuid, jsonb) to service_role;
grant execute on function private.trading_apply_all(uuid, jsonb, text) to service_role;
grant execute on function public.trading_fills(text, timestamptz, bigint, integer)
  to service_role;
grant execute on function public.trading_fills_cleanup(integer) to service_role;
