-- What the Stripe webhooks keep, beside the credit ledger (20261121040000) and the
-- subscriptions table (20261121040100, given Stripe's columns here). Every table is written
-- only by the billing processors (20261130700200, security definer) and read by its user.
--
--   billing_grants     what was granted for a payment: ref = the Checkout Session (a credit
--                      pack) or the Invoice (a subscription period); the ledger row is
--                      grant:{ref}. `payment_intent` ties it to refunds and disputes;
--                      `debited` is how much of it refunds/disputes have taken back so far.
--   billing_reversals  refunds (per charge: the cumulative amount_refunded) and disputes,
--                      kept even when they arrive before the grant they reverse
--   billing_invoices   the newest known state of each invoice (paid is final): a failed or
--                      action-required one is the user's payment problem
--   billing_checkouts  Checkout Sessions' payment state (delayed methods: pending -> paid
--                      or failed; never backwards)
--   billing_accounts   a flag for an operator: a refund or dispute took back credits that
--                      were already spent (the balance went below zero), or a dispute
--
--   private.billing_summary(user)  {balance, subscription}: what `billing-updated` carries
--   private.billing_publish(user)  queue `billing-updated` on private-user-{user}

alter table public.subscriptions
  add column stripe_subscription_id text unique
    check (stripe_subscription_id ~ '^sub_[A-Za-z0-9_]{1,200}$'),
  add column stripe_customer_id text,
  add column price_id text check (char_length(price_id) <= 200),
  add column cancel_at_period_end boolean not null default false,
  add column trial_end timestamptz,
  add column stripe_event_created bigint;

comment on column public.subscriptions.stripe_event_created is
  'created (unix s) of the newest Stripe event applied: older ones are stale and ignored.';

create table public.billing_grants (
  ref text primary key check (char_length(ref) between 1 and 200),
  user_id text not null check (char_length(user_id) between 1 and 128),
  kind text not null check (kind in ('credits', 'subscription')),
  credits integer not null check (credits > 0),
  payment_intent text check (char_length(payment_intent) <= 200),
  debited integer not null default 0 check (debited between 0 and credits),
  created_at timestamptz not null default now()
);

create index billing_grants_user_id_idx on public.billing_grants (user_id, created_at);
create index billing_grants_payment_intent_idx on public.billing_grants (payment_intent)
  where payment_intent is not null;

create table public.billing_reversals (
  kind text not null check (kind in ('refund', 'dispute')),
  id text not null check (char_length(id) between 1 and 200),
  user_id text check (char_length(user_id) between 1 and 128),
  payment_intent text check (char_length(payment_intent) <= 200),
  charge_id text check (char_length(charge_id) <= 200),
  amount bigint not null check (amount >= 0),
  charge_amount bigint not null check (charge_amount >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (kind, id)
);

create index billing_reversals_payment_intent_idx on public.billing_reversals (payment_intent);
create index billing_reversals_user_id_idx on public.billing_reversals (user_id);

create table public.billing_invoices (
  invoice_id text primary key check (char_length(invoice_id) between 1 and 200),
  user_id text not null check (char_length(user_id) between 1 and 128),
  status text not null check (status in ('paid', 'payment_failed', 'action_required')),
  hosted_invoice_url text check (char_length(hosted_invoice_url) <= 2048),
  event_created bigint not null,
  updated_at timestamptz not null default now()
);

create index billing_invoices_user_id_idx on public.billing_invoices (user_id, updated_at);

create table public.billing_checkouts (
  session_id text primary key check (char_length(session_id) between 1 and 200),
  user_id text not null check (char_length(user_id) between 1 and 128),
  mode text not null check (mode in ('payment', 'subscription', 'setup')),
  status text not null check (status in ('pending', 'paid', 'failed')),
  updated_at timestamptz not null default now()
);

create index billing_checkouts_user_id_idx on public.billing_checkouts (user_id, updated_at);

create table public.billing_accounts (
  user_id text primary key check (char_length(user_id) between 1 and 128),
  flagged_at timestamptz,
  flag_reason text check (char_length(flag_reason) <= 500),
  updated_at timestamptz not null default now()
);

alter table public.billing_grants enable row level security;
alter table public.billing_reversals enable row level security;
alter table public.billing_invoices enable row level security;
alter table public.billing_checkouts enable row level security;
alter table public.billing_accounts enable row level security;

create policy "billing_grants: users read their own"
  on public.billing_grants for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));
create policy "billing_reversals: users read their own"
  on public.billing_reversals for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));
create policy "billing_invoices: users read their own"
  on public.billing_invoices for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));
create policy "billing_checkouts: users read their own"
  on public.billing_checkouts for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));
create policy "billing_accounts: users read their own"
  on public.billing_accounts for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.billing_grants from anon, authenticated, service_role;
revoke all on public.billing_reversals from anon, authenticated, service_role;
revoke all on public.billing_invoices from anon, authenticated, service_role;
revoke all on public.billing_checkouts from anon, authenticated, service_role;
revoke all on public.billing_accounts from anon, authenticated, service_role;
grant select on public.billing_grants to authenticated, service_role;
grant select on public.billing_reversals to authenticated, service_role;
grant select on public.billing_invoices to authenticated, service_role;
grant select on public.billing_checkouts to authenticated, service_role;
grant select on public.billing_accounts to authenticated, service_role;

-- The subscription a user sees: a live one before an ended one, then the newest period.
create or replace function private.billing_subscription(p_user_id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', s.stripe_subscription_id,
    'status', s.status,
    'currentPeriodEnd', s.current_period_end,
    'cancelAtPeriodEnd', s.cancel_at_period_end,
    'trialEnd', s.trial_end,
    'active', s.status in ('active', 'trialing') and s.current_period_end > now()
  )
  from public.subscriptions s
  where s.user_id = p_user_id
  order by (s.status not in ('canceled', 'incomplete_expired')) desc,
    s.current_period_end desc, s.updated_at desc
  limit 1
$$;

create or replace function private.billing_summary(p_user_id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'balance', public.credit_balance(p_user_id),
    'subscription', private.billing_subscription(p_user_id)
  )
$$;

create or replace function private.billing_publish(p_user_id text)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
  select public.outbox_enqueue(
    'private-user-' || p_user_id, 'billing-updated', private.billing_summary(p_user_id)
  )
$$;

-- Billing writes for one payment serialize on its PaymentIntent, then on the user (the
-- ledger's own lock): always in that order, so a grant, a refund and a dispute of one
-- payment never interleave and never deadlock.
create or replace function private.billing_lock_payment(p_payment_intent text)
returns void
language sql
volatile
set search_path = ''
as $$
  select pg_advisory_xact_lock(hashtextextended('billing-payment:' || p_payment_intent, 0))
  where p_payment_intent is not null
$$;

create or replace function private.billing_flag(p_user_id text, p_reason text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  insert into public.billing_accounts as a (user_id, flagged_at, flag_reason)
    values (p_user_id, now(), left(p_reason, 500))
    on conflict (user_id) do update
      set flagged_at = now(), flag_reason = left(excluded.flag_reason, 500), updated_at = now()
$$;

revoke execute on function private.billing_subscription(text) from public, anon, authenticated;
revoke execute on function private.billing_summary(text) from public, anon, authenticated;
revoke execute on function private.billing_publish(text) from public, anon, authenticated;
revoke execute on function private.billing_lock_payment(text) from public, anon, authenticated;
revoke execute on function private.billing_flag(text, text) from public, anon, authenticated;

-- definer helpers: other definer functions and triggers call them; the service role may too
grant execute on function private.billing_subscription(text) to service_role;
grant execute on function private.billing_summary(text) to service_role;
grant execute on function private.billing_publish(text) to service_role;
grant execute on function private.billing_lock_payment(text) to service_role;
grant execute on function private.billing_flag(text, text) to service_role;
