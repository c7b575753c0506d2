-- Subscriptions: what a user pays for by the period (Stripe's statuses). A user with an
-- active subscription — status 'active' or 'trialing' and the current period not over —
-- creates poker sessions without spending credits. The billing feature writes these rows
-- from Stripe webhooks (service role) and may add provider columns in its own migration.
-- Users read their own subscriptions.

create table public.subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id text not null check (char_length(user_id) between 1 and 128),
  status text not null check (status in (
    'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled',
    'unpaid', 'paused'
  )),
  current_period_end timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index subscriptions_user_id_idx on public.subscriptions (user_id);

create trigger subscriptions_touch_updated_at
  before update on public.subscriptions
  for each row execute function public.touch_updated_at();

create or replace function private.has_active_subscription(p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.subscriptions s
    where s.user_id = p_user_id
      and s.status in ('active', 'trialing')
      and s.current_period_end > now()
  )
$$;

revoke execute on function private.has_active_subscription(text) from public, anon;
grant execute on function private.has_active_subscription(text) to authenticated, service_role;

alter table public.subscriptions enable row level security;

create policy "subscriptions: users read their own"
  on public.subscriptions for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.subscriptions from anon, authenticated, service_role;
grant select on public.subscriptions to authenticated;
grant select, insert, update, delete on public.subscriptions to service_role;
