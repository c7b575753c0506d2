-- Billing identity and settings: which Stripe Customer is which user, and what every new user
-- is given.
--
--   billing_customers      one Stripe Customer per user. billing.checkout / billing.portal
--                          create it (metadata.user_id) and store it here BEFORE any Checkout
--                          Session exists, so every later event resolves to its user whatever
--                          order it arrives in (Stripe's first invoice.paid may precede
--                          checkout.session.completed).
--   private.billing_settings  one row: signup_free_credits (SIGNUP_FREE_CREDITS, default 3),
--                          written by the billing functions (public.billing_configure) and
--                          read by the trigger below
--   profiles insert        -> SIGNUP_FREE_CREDITS credits, once per user (ledger key
--                          signup:{user}), however the profile is created (Clerk webhook,
--                          Supabase Auth trigger, seed, SQL)
--   private.billing_user_for(customer, user_hint)  the user a Stripe Customer belongs to, for
--                          the webhook processors (null: not one of ours)

create table public.billing_customers (
  customer_id text primary key check (customer_id ~ '^cus_[A-Za-z0-9_]{1,200}$'),
  user_id text not null unique check (char_length(user_id) between 1 and 128),
  created_at timestamptz not null default now()
);

comment on table public.billing_customers is
  'The Stripe Customer of each user (created before any Checkout Session).';

alter table public.billing_customers enable row level security;

create policy "billing_customers: users read their own"
  on public.billing_customers for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.billing_customers from anon, authenticated, service_role;
grant select on public.billing_customers to authenticated, service_role;

create table private.billing_settings (
  id boolean primary key default true check (id),
  signup_free_credits integer not null default 3 check (signup_free_credits between 0 and 1000000),
  updated_at timestamptz not null default now()
);

insert into private.billing_settings (id) values (true) on conflict (id) do nothing;

revoke all on private.billing_settings from public, anon, authenticated;

create or replace function public.billing_configure(p_signup_free_credits integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if p_signup_free_credits is null or p_signup_free_credits not between 0 and 1000000 then
    raise exception 'signup_free_credits is 0..1000000' using errcode = '22023';
  end if;
  update private.billing_settings
    set signup_free_credits = p_signup_free_credits, updated_at = now()
    where id and signup_free_credits is distinct from p_signup_free_credits;
  return jsonb_build_object('signupFreeCredits', p_signup_free_credits);
end
$$;

create or replace function private.billing_signup_credits()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_amount integer;
begin
  select s.signup_free_credits into v_amount from private.billing_settings s where s.id;
  if coalesce(v_amount, 0) > 0 then
    perform public.credit_grant(new.id, v_amount, 'signup', new.id);
  end if;
  return null;
end
$$;

create trigger profiles_signup_credits
  after insert on public.profiles
  for each row execute function private.billing_signup_credits();

create or replace function public.billing_customer_link(p_user_id text, p_customer_id text)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_customer text;
begin
  insert into public.billing_customers (customer_id, user_id)
    values (p_customer_id, p_user_id)
    on conflict do nothing;
  select c.customer_id into v_customer from public.billing_customers c where c.user_id = p_user_id;
  return v_customer;
end
$$;

create or replace function public.billing_customer(p_user_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select c.customer_id from public.billing_customers c where c.user_id = p_user_id
$$;

-- The user behind a Stripe Customer. A Customer we created is always linked (it is stored
-- before its first Checkout Session); `p_user_hint` (the object's metadata.user_id or the
-- session's client_reference_id: values we set, in a payload Stripe signed) names the user
-- of one whose link was lost between Stripe's answer and our insert, and links it when that
-- user has none yet. Null: not one of ours.
create or replace function private.billing_user_for(p_customer_id text, p_user_hint text)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user text;
begin
  select c.user_id into v_user from public.billing_customers c where c.customer_id = p_customer_id;
  if v_user is not null or p_user_hint is null
     or char_length(p_user_hint) not between 1 and 128 then
    return v_user;
  end if;
  if p_customer_id ~ '^cus_[A-Za-z0-9_]{1,200}$' then
    insert into public.billing_customers (customer_id, user_id)
      values (p_customer_id, p_user_hint)
      on conflict do nothing;
  end if;
  return p_user_hint;
end
$$;

revoke execute on function public.billing_configure(integer) from public, anon, authenticated;
revoke execute on function private.billing_signup_credits() from public, anon, authenticated;
revoke execute on function public.billing_customer_link(text, text)
  from public, anon, authenticated;
revoke execute on function public.billing_customer(text) from public, anon, authenticated;
revoke execute on function private.billing_user_for(text, text) from public, anon, authenticated;

grant execute on function public.billing_configure(integer) to service_role;
grant execute on function public.billing_customer_link(text, text) to service_role;
grant execute on function public.billing_customer(text) to service_role;

-- definer helpers: other definer functions and triggers call them; the service role may too
grant execute on function private.billing_signup_credits() to service_role;
grant execute on function private.billing_user_for(text, text) to service_role;
