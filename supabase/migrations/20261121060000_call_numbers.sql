-- Call numbers: which user owns an inbound phone number, and what the assistant should do when
-- it is called (goal and context, copied onto each inbound call). An inbound call to a number
-- not listed here is answered with a short "not in service" message and recorded nowhere.
-- Numbers are assigned by the service role (an admin tool or the provider's provisioning
-- webhook), never by users themselves: users only read their own.

create table public.call_numbers (
  number text primary key check (number ~ '^\+[1-9][0-9]{6,14}$'),
  owner_id text not null check (char_length(owner_id) between 1 and 128),
  goal text not null default '' check (char_length(goal) <= 2000),
  context jsonb not null default '{}'::jsonb
    check (jsonb_typeof(context) = 'object' and octet_length(context::text) <= 4096),
  created_at timestamptz not null default now()
);

create index call_numbers_owner_id_idx on public.call_numbers (owner_id);

alter table public.call_numbers enable row level security;

create policy "call_numbers: users read their own"
  on public.call_numbers for select to authenticated
  using (owner_id = (select auth.jwt() ->> 'sub'));

revoke all on public.call_numbers from anon, authenticated;
grant select on public.call_numbers to authenticated;
grant select, insert, update, delete on public.call_numbers to service_role;
