-- Trading: applying what a broker says (a push through POST /api/webhooks/broker/{connection},
-- or a trading.sync fetch) to positions, orders and balances, and the sync log.
--
--   trading_sync_logs         one row per applied update: source (webhook | sync), how many
--                             rows changed; the weekly `cleanup-old-logs` cron deletes old ones
--   trading_on_broker_event   the webhook processor: {connectionId, positions?, orders?,
--                             balance?} (lib/features/trading/webhook.py normalises it)
--   trading_sync_apply        the same for trading.sync; a `full` update also closes (qty 0)
--                             the connection's positions it no longer lists
--   trading_logs_cleanup(days)  delete sync logs older than `days`
--
-- Only rows whose values changed are written (updated_at bumped) and published: one
-- `position-update` / `order-update` / `balance-update` per changed row, on
-- private-user-{owner}, in the same transaction. A redelivery or an unchanged fetch publishes
-- nothing.

create table public.trading_sync_logs (
  id bigint generated always as identity primary key,
  connection_id uuid not null,
  user_id text not null,
  source text not null check (source in ('webhook', 'sync')),
  positions integer not null default 0,
  orders integer not null default 0,
  balances integer not null default 0,
  created_at timestamptz not null default now()
);

create index trading_sync_logs_created_at_idx on public.trading_sync_logs (created_at);
create index trading_sync_logs_user_id_idx on public.trading_sync_logs (user_id, created_at);

alter table public.trading_sync_logs enable row level security;

create policy "trading_sync_logs: users read their own"
  on public.trading_sync_logs for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.trading_sync_logs from anon, authenticated;
grant select on public.trading_sync_logs to authenticated;
grant select, insert, delete on public.trading_sync_logs to service_role;

create or replace function private.trading_apply(
  p_connection uuid, p_update jsonb, p_source text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_conn public.trading_connections;
  v_channel text;
  v_item jsonb;
  v_pos public.trading_positions;
  v_order public.trading_orders;
  v_balance public.trading_balances;
  v_symbols text[] := '{}';
  v_ids bigint[] := '{}';
  v_positions integer := 0;
  v_orders integer := 0;
  v_balances integer := 0;
begin
  select * into v_conn from public.trading_connections where id = p_connection for share;
  if not found then
    raise exception 'no such connection' using errcode = 'P0002';
  end if;
  v_channel := 'private-user-' || v_conn.user_id;

  for v_item in
    select value from jsonb_array_elements(coalesce(p_update -> 'positions', '[]'::jsonb))
  loop
    v_symbols := v_symbols || (v_item ->> 'symbol');
    insert into public.trading_positions as t (
      connection_id, user_id, symbol, qty, avg_price, market_value, unrealized_pl
    ) values (
      p_connection, v_conn.user_id, v_item ->> 'symbol', (v_item ->> 'qty')::numeric,
      (v_item ->> 'avgPrice')::numeric, (v_item ->> 'marketValue')::numeric,
      (v_item ->> 'unrealizedPl')::numeric
    )
    on conflict (connection_id, symbol) do update set
      qty = excluded.qty,
      avg_price = coalesce(excluded.avg_price, t.avg_price),
      market_value = coalesce(excluded.market_value, t.market_value),
      unrealized_pl = coalesce(excluded.unrealized_pl, t.unrealized_pl),
      updated_at = now()
    where t.qty is distinct from excluded.qty
      or t.avg_price is distinct from coalesce(excluded.avg_price, t.avg_price)
      or t.market_value is distinct from coalesce(excluded.market_value, t.market_value)
      or t.unrealized_pl is distinct from coalesce(excluded.unrealized_pl, t.unrealized_pl)
    returning * into v_pos;
    if v_pos.id is not null then
      v_positions := v_positions + 1;
      v_ids := v_ids || public.outbox_enqueue(v_channel, 'position-update', jsonb_build_object(
        'broker', v_conn.broker, 'position', private.trading_position_json(v_pos)));
    end if;
    v_pos := null;
  end loop;

  if coalesce((p_update ->> 'full')::boolean, false) then
    for v_pos in
      update public.trading_positions
        set qty = 0, market_value = 0, unrealized_pl = 0, updated_at = now()
      where connection_id = p_connection and qty <> 0 and not (symbol = any(v_symbols))
      returning *
    loop
      v_positions := v_positions + 1;
      v_ids := v_ids || public.outbox_enqueue(v_channel, 'position-update', jsonb_build_object(
        'broker', v_conn.broker, 'position', private.trading_position_json(v_pos)));
    end loop;
  end if;

  for v_item in
    select value from jsonb_array_elements(coalesce(p_update -> 'orders', '[]'::jsonb))
  loop
    insert into public.trading_orders as t (
      connection_id, user_id, broker_order_id, symbol, side, type, qty, filled_qty,
      limit_price, avg_fill_price, status, submitted_at
    ) values (
      p_connection, v_conn.user_id, v_item ->> 'id', v_item ->> 'symbol', v_item ->> 'side',
      coalesce(v_item ->> 'type', 'market'), (v_item ->> 'qty')::numeric,
      coalesce((v_item ->> 'filledQty')::numeric, 0), (v_item ->> 'limitPrice')::numeric,
      (v_item ->> 'avgFillPrice')::numeric, v_item ->> 'status',
      (v_item ->> 'submittedAt')::timestamptz
    )
    on conflict (connection_id, broker_order_id) do update set
      symbol = excluded.symbol,
      side = excluded.side,
      type = excluded.type,
      qty = excluded.qty,
      filled_qty = excluded.filled_qty,
      limit_price = coalesce(excluded.limit_price, t.limit_price),
      avg_fill_price = coalesce(excluded.avg_fill_price, t.avg_fill_price),
      status = excluded.status,
      submitted_at = coalesce(excluded.submitted_at, t.submitted_at),
      updated_at = now()
    where (t.symbol, t.side, t.type, t.qty, t.filled_qty, t.status)
        is distinct from
        (excluded.symbol, excluded.side, excluded.type, excluded.qty, excluded.filled_qty,
         excluded.status)
      or t.limit_price is distinct from coalesce(excluded.limit_price, t.limit_price)
      or t.avg_fill_price is distinct from coalesce(excluded.avg_fill_price, t.avg_fill_price)
    returning * into v_order;
    if v_order.id is not null then
      v_orders := v_orders + 1;
      v_ids := v_ids || public.outbox_enqueue(v_channel, 'order-update', jsonb_build_object(
        'broker', v_conn.broker, 'order', private.trading_order_json(v_order)));
    end if;
    v_order := null;
  end loop;

  v_item := p_update -> 'balance';
  if jsonb_typeof(v_item) = 'object' then
    insert into public.trading_balances as t (
      connection_id, user_id, currency, cash, equity, buying_power
    ) values (
      p_connection, v_conn.user_id, coalesce(v_item ->> 'currency', 'USD'),
      (v_item ->> 'cash')::numeric, (v_item ->> 'equity')::numeric,
      (v_item ->> 'buyingPower')::numeric
    )
    on conflict (connection_id) do update set
      currency = excluded.currency,
      cash = coalesce(excluded.cash, t.cash),
      equity = coalesce(excluded.equity, t.equity),
      buying_power = coalesce(excluded.buying_power, t.buying_power),
      updated_at = now()
    where t.currency is distinct from excluded.currency
      or t.cash is distinct from coalesce(excluded.cash, t.cash)
      or t.equity is distinct from coalesce(excluded.equity, t.equity)
      or t.buying_power is distinct from coalesce(excluded.buying_power, t.buying_power)
    returning * into v_balance;
    if v_balance.id is not null then
      v_balances := 1;
      v_ids := v_ids || public.outbox_enqueue(v_channel, 'balance-update', jsonb_build_object(
        'broker', v_conn.broker, 'balance', private.trading_balance_json(v_balance)));
    end if;
  end if;

  update public.trading_connections set last_sync_at = now() where id = p_connection;
  insert into public.trading_sync_logs (connection_id, user_id, source, positions, orders, balances)
    values (p_connection, v_conn.user_id, p_source, v_positions, v_orders, v_balances);
  return jsonb_build_object(
    'connectionId', p_connection,
    'changed', jsonb_build_object(
      'positions', v_positions, 'orders', v_orders, 'balances', v_balances),
    'events', public.outbox_rows(v_ids)
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
  select private.trading_apply((p_event ->> 'connectionId')::uuid, p_event, 'webhook')
$$;

create or replace function public.trading_sync_apply(p_connection uuid, p_update jsonb)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  select private.trading_apply(p_connection, p_update, 'sync')
$$;

create or replace function public.trading_logs_cleanup(p_retention_days integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with gone as (
    delete from public.trading_sync_logs
    where created_at < now() - make_interval(days => p_retention_days)
    returning 1
  )
  select count(*)::integer from gone
$$;

revoke execute on function private.trading_apply(uuid, jsonb, text)
  from public, anon, authenticated;
revoke execute on function public.trading_on_broker_event(jsonb) from public, anon, authenticated;
revoke execute on function public.trading_sync_apply(uuid, jsonb) from public, anon, authenticated;
revoke execute on function public.trading_logs_cleanup(integer) from public, anon, authenticated;
grant execute on function private.trading_apply(uuid, jsonb, text) to service_role;
grant execute on function public.trading_on_broker_event(jsonb) to service_role;
grant execute on function public.trading_sync_apply(uuid, jsonb) to service_role;
grant execute on function public.trading_logs_cleanup(integer) to service_role;
