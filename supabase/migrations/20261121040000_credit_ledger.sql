-- Credits: an append-only ledger per user. A grant (seed, a Stripe purchase, a refund) is a
-- positive row, a spend (one poker session) is a -1 row written in the same transaction as
-- what it pays for; the balance is the sum. Rows are never updated or deleted: no grants or
-- policies allow it, and a trigger refuses it even to the table owner, so the history of a
-- balance is always its rows.
--
--   public.credit_grant(user, amount, reason, ref)  service role; idempotent per
--                                                   (user, reason, ref): a webhook retried
--                                                   or a seed re-applied grants once
--   public.credit_balance(user)                     service role
--   private.credit_spend(user, reason, ref)         for command functions only: takes a
--                                                   per-user transaction lock, so concurrent
--                                                   spends serialize and the balance never
--                                                   goes below zero (errcode PT402 otherwise)
--
-- Users read their own rows; nobody writes them directly.

create table public.credit_ledger (
  id bigint generated always as identity primary key,
  user_id text not null check (char_length(user_id) between 1 and 128),
  delta integer not null check (delta <> 0),
  reason text not null
    check (char_length(reason) <= 64 and reason ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  ref text check (char_length(ref) between 1 and 200),
  created_at timestamptz not null default now()
);

comment on table public.credit_ledger is
  'Append-only credit grants (+) and spends (-) per user; the balance is the sum.';

create index credit_ledger_user_id_idx on public.credit_ledger (user_id, id);
create unique index credit_ledger_user_reason_ref_key
  on public.credit_ledger (user_id, reason, ref) where ref is not null;

create or replace function private.credit_ledger_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'credit_ledger is append-only: % is not allowed', lower(tg_op)
    using errcode = '42501';
end
$$;

create trigger credit_ledger_append_only
  before update or delete or truncate on public.credit_ledger
  for each statement execute function private.credit_ledger_append_only();

alter table public.credit_ledger enable row level security;

create policy "credit_ledger: users read their own"
  on public.credit_ledger for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.credit_ledger from anon, authenticated, service_role;
grant select on public.credit_ledger to authenticated, service_role;

create or replace function private.credit_lock(p_user_id text)
returns void
language sql
volatile
set search_path = ''
as $$
  select pg_advisory_xact_lock(hashtextextended('credits:' || p_user_id, 0))
$$;

create or replace function public.credit_balance(p_user_id text)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(sum(l.delta), 0)::bigint
  from public.credit_ledger l
  where l.user_id = p_user_id
$$;

-- Spend one credit for `p_reason`/`p_ref` inside the caller's transaction; returns the
-- balance left. The lock is taken before the balance is read, and under read committed the
-- read then sees every spend committed by earlier holders of the lock.
create or replace function private.credit_spend(p_user_id text, p_reason text, p_ref text)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_balance bigint;
begin
  perform private.credit_lock(p_user_id);
  v_balance := public.credit_balance(p_user_id);
  if v_balance < 1 then
    raise exception 'no credits left: buy credits or subscribe to create a session'
      using errcode = 'PT402';
  end if;
  insert into public.credit_ledger (user_id, delta, reason, ref)
  values (p_user_id, -1, p_reason, p_ref);
  return v_balance - 1;
end
$$;

create or replace function public.credit_grant(
  p_user_id text,
  p_amount integer,
  p_reason text,
  p_ref text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_id bigint;
begin
  if p_amount is null or p_amount < 1 then
    raise exception 'a grant is at least one credit' using errcode = '22023';
  end if;
  perform private.credit_lock(p_user_id);
  insert into public.credit_ledger (user_id, delta, reason, ref)
  values (p_user_id, p_amount, p_reason, p_ref)
  on conflict (user_id, reason, ref) where ref is not null do nothing
  returning id into v_id;
  return jsonb_build_object(
    'granted', v_id is not null,
    'balance', public.credit_balance(p_user_id)
  );
end
$$;

revoke execute on function private.credit_ledger_append_only() from public, anon, authenticated;
revoke execute on function private.credit_lock(text) from public, anon, authenticated;
revoke execute on function private.credit_spend(text, text, text)
  from public, anon, authenticated, service_role;
revoke execute on function public.credit_balance(text) from public, anon, authenticated;
revoke execute on function public.credit_grant(text, integer, text, text)
  from public, anon, authenticated;

grant execute on function public.credit_balance(text) to service_role;
grant execute on function public.credit_grant(text, integer, text, text) to service_role;
