-- Trading: what each connection holds — positions, orders, balances — for delta queries.
--
--   trading_positions  one row per (connection, symbol); qty 0 = closed (kept, so a delta
--                      query sees the close)
--   trading_orders     one row per (connection, broker order id)
--   trading_balances   one row per connection
-- Every row carries its owner (user_id) and updated_at, bumped only when a value changed;
-- `id` breaks ties between rows updated in the same transaction, so (updated_at, id) is the
-- cursor of a delta query.
--
-- Functions (service role only):
--   trading_positions(user, since, after, limit)          {positions, next}
--   trading_orders(user, since, after, status, limit)     {orders, next}
--   trading_balances(user)                                {balances}
-- `since` alone: rows updated after it; with `after`: rows after (since, after) — `next`, which
-- is {since, after} while more rows follow, else null.

create table public.trading_positions (
  id bigint generated always as identity unique,
  connection_id uuid not null references public.trading_connections (id) on delete cascade,
  user_id text not null,
  symbol text not null check (char_length(symbol) between 1 and 64),
  qty numeric not null,
  avg_price numeric,
  market_value numeric,
  unrealized_pl numeric,
  updated_at timestamptz not null default now(),
  primary key (connection_id, symbol)
);

create table public.trading_orders (
  id bigint generated always as identity unique,
  connection_id uuid not null references public.trading_connections (id) on delete cascade,
  user_id text not null,
  broker_order_id text not null check (char_length(broker_order_id) between 1 and 128),
  symbol text not null check (char_length(symbol) between 1 and 64),
  side text not null check (side in ('buy', 'sell')),
  type text not null default 'market' check (char_length(type) <= 32),
  qty numeric not null,
  filled_qty numeric not null default 0,
  limit_price numeric,
  avg_fill_price numeric,
  status text not null check (char_length(status) between 1 and 32),
  submitted_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (connection_id, broker_order_id)
);

create table public.trading_balances (
  id bigint generated always as identity unique,
  connection_id uuid primary key references public.trading_connections (id) on delete cascade,
  user_id text not null,
  currency text not null default 'USD' check (char_length(currency) between 1 and 16),
  cash numeric,
  equity numeric,
  buying_power numeric,
  updated_at timestamptz not null default now()
);

create index trading_positions_delta_idx on public.trading_positions (user_id, updated_at, id);
create index trading_orders_delta_idx on public.trading_orders (user_id, updated_at, id);
create index trading_balances_user_id_idx on public.trading_balances (user_id);

alter table public.trading_positions enable row level security;
alter table public.trading_orders enable row level security;
alter table public.trading_balances enable row level security;

create policy "trading_positions: users read their own"
  on public.trading_positions for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));
create policy "trading_orders: users read their own"
  on public.trading_orders for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));
create policy "trading_balances: users read their own"
  on public.trading_balances for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.trading_positions from anon, authenticated;
revoke all on public.trading_orders from anon, authenticated;
revoke all on public.trading_balances from anon, authenticated;
grant select on public.trading_positions to authenticated;
grant select on public.trading_orders to authenticated;
grant select on public.trading_balances to authenticated;
grant select, insert, update, delete on public.trading_positions to service_role;
grant select, insert, update, delete on public.trading_orders to service_role;
grant select, insert, update, delete on public.trading_balances to service_role;

create or replace function private.trading_position_json(p_row public.trading_positions)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'connectionId', p_row.connection_id, 'symbol', p_row.symbol, 'qty', p_row.qty,
    'avgPrice', p_row.avg_price, 'marketValue', p_row.market_value,
    'unrealizedPl', p_row.unrealized_pl, 'updatedAt', p_row.updated_at
  )
$$;

create or replace function private.trading_order_json(p_row public.trading_orders)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'connectionId', p_row.connection_id, 'id', p_row.broker_order_id, 'symbol', p_row.symbol,
    'side', p_row.side, 'type', p_row.type, 'qty', p_row.qty, 'filledQty', p_row.filled_qty,
    'limitPrice', p_row.limit_price, 'avgFillPrice', p_row.avg_fill_price,
    'status', p_row.status, 'submittedAt', p_row.submitted_at, 'updatedAt', p_row.updated_at
  )
$$;

create or replace function private.trading_balance_json(p_row public.trading_balances)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'connectionId', p_row.connection_id, 'currency', p_row.currency, 'cash', p_row.cash,
    'equity', p_row.equity, 'buyingPower', p_row.buying_power, 'updatedAt', p_row.updated_at
  )
$$;

create or replace function public.trading_positions(
  p_user text, p_since timestamptz, p_after bigint, p_limit integer
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with page as (
    select p.* from public.trading_positions p
    where p.user_id = p_user
      and (p_since is null
        or (p_after is null and p.updated_at > p_since)
        or (p.updated_at, p.id) > (p_since, p_after))
    order by p.updated_at, p.id
    limit p_limit + 1
  ), shown as (
    select * from page order by updated_at, id limit p_limit
  )
  select jsonb_build_object(
    'positions', coalesce(
      (select jsonb_agg(private.trading_position_json(s::public.trading_positions)
        order by s.updated_at, s.id) from shown s), '[]'::jsonb),
    'next', case when (select count(*) from page) > p_limit then (
      select jsonb_build_object('since', s.updated_at, 'after', s.id)
      from shown s order by s.updated_at desc, s.id desc limit 1
    ) end
  )
$$;

create or replace function public.trading_orders(
  p_user text, p_since timestamptz, p_after bigint, p_status text, p_limit integer
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with page as (
    select o.* from public.trading_orders o
    where o.user_id = p_user
      and (p_status is null or o.status = p_status)
      and (p_since is null
        or (p_after is null and o.updated_at > p_since)
        or (o.updated_at, o.id) > (p_since, p_after))
    order by o.updated_at, o.id
    limit p_limit + 1
  ), shown as (
    select * from page order by updated_at, id limit p_limit
  )
  select jsonb_build_object(
    'orders', coalesce(
      (select jsonb_agg(private.trading_order_json(s::public.trading_orders)
        order by s.updated_at, s.id) from shown s), '[]'::jsonb),
    'next', case when (select count(*) from page) > p_limit then (
      select jsonb_build_object('since', s.updated_at, 'after', s.id)
      from shown s order by s.updated_at desc, s.id desc limit 1
    ) end
  )
$$;

create or replace function public.trading_balances(p_user text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('balances', coalesce(
    jsonb_agg(private.trading_balance_json(b) order by b.connection_id), '[]'::jsonb))
  from public.trading_balances b
  where b.user_id = p_user
$$;

revoke execute on function private.trading_position_json(public.trading_positions)
  from public, anon, authenticated;
revoke execute on function private.trading_order_json(public.trading_orders)
  from public, anon, authenticated;
revoke execute on function private.trading_balance_json(public.trading_balances)
  from public, anon, authenticated;
revoke execute on function public.trading_positions(text, timestamptz, bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.trading_orders(text, timestamptz, bigint, text, integer)
  from public, anon, authenticated;
revoke execute on function public.trading_balances(text) from public, anon, authenticated;
grant execute on function private.trading_position_json(public.trading_positions) to service_role;
grant execute on function private.trading_order_json(public.trading_orders) to service_role;
grant execute on function private.trading_balance_json(public.trading_balances) to service_role;
grant execute on function public.trading_positions(text, timestamptz, bigint, integer)
  to service_role;
grant execute on function public.trading_orders(text, timestamptz, bigint, text, integer)
  to service_role;
grant execute on function public.trading_balances(text) to service_role;
