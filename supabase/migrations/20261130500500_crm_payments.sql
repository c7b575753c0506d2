-- CRM invoices and payments: HighLevel InvoicePaid, InvoicePartiallyPaid, InvoiceSent,
-- InvoiceVoid, OrderCreate, OrderStatusUpdate, and payment failures.
--
--   crm_invoices  latest snapshot per invoice; amount_paid is HighLevel's running total
--   crm_payments  one row per money received: an invoice event whose amountPaid grew (the
--                 growth is the payment, so a redelivered snapshot adds nothing), or a paid
--                 order (once per order). paid_at is when we learnt of it.
--
-- Invoice events carry no locationId: the envelope (lib/features/crm/envelope.py) takes it from
-- altId when altType is "location".
--
--   private.crm_revenue_today(location)  the sum of today's payments, "today" in the location's
--                                        time zone (crm_locations.time_zone)
--
-- crm_on_payment: a payment -> the assignee (the invoice's or order's contact's assigned user):
-- `payment-received` {amount, currency, customerName, invoiceNumber, paymentMethod}; the
-- location: `revenue-update` {type: payment, amount, total (today's revenue), currency}.
-- A failure (InvoicePaymentFailed / PaymentFailed, or an order whose status says failed) ->
-- `payment-failed` {amount, currency, customerName, invoiceNumber, reason} to the assignee, or
-- to the location when nobody is assigned. InvoiceSent/InvoiceVoid update the invoice only.

create table public.crm_invoices (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  number text check (char_length(number) <= 64),
  customer_name text check (char_length(customer_name) <= 400),
  status text not null default 'draft' check (char_length(status) between 1 and 32),
  currency text check (char_length(currency) <= 8),
  total numeric(14, 2) not null default 0,
  amount_paid numeric(14, 2) not null default 0,
  amount_due numeric(14, 2) not null default 0,
  updated_at timestamptz not null default now()
);

create index crm_invoices_location_id_idx on public.crm_invoices (location_id);

create table public.crm_payments (
  id bigint generated always as identity primary key,
  location_id text not null references public.locations (id) on delete cascade,
  invoice_id text references public.crm_invoices (id) on delete set null,
  order_id text unique check (char_length(order_id) <= 128),
  contact_id text check (char_length(contact_id) <= 128),
  amount numeric(14, 2) not null check (amount > 0),
  currency text check (char_length(currency) <= 8),
  method text check (char_length(method) <= 64),
  paid_at timestamptz not null default now()
);

create index crm_payments_location_id_paid_at_idx on public.crm_payments (location_id, paid_at);

alter table public.crm_invoices enable row level security;
alter table public.crm_payments enable row level security;

create policy "crm_invoices: members read their locations' invoices"
  on public.crm_invoices for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_payments: members read their locations' payments"
  on public.crm_payments for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_invoices, public.crm_payments from anon, authenticated;
grant select on public.crm_invoices, public.crm_payments to authenticated;
grant select, insert, update, delete on public.crm_invoices, public.crm_payments to service_role;

create or replace function private.crm_revenue_today(p_location text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with zone as (
    select coalesce((select time_zone from public.crm_locations where location_id = p_location), 'UTC') as tz
  ), day as (
    select tz, (now() at time zone tz)::date as today from zone
  )
  select jsonb_build_object(
    'locationId', p_location,
    'day', day.today,
    'timeZone', day.tz,
    'total', coalesce(sum(p.amount), 0),
    'payments', count(p.id),
    'currency', (array_agg(p.currency order by p.id desc) filter (where p.currency is not null))[1]
  )
  from day
  left join public.crm_payments p
    on p.location_id = p_location
    and p.paid_at >= (day.today::timestamp at time zone day.tz)
    and p.paid_at < ((day.today + 1)::timestamp at time zone day.tz)
  group by day.today, day.tz
$$;

create or replace function private.crm_money(p_value jsonb)
returns numeric
language plpgsql
immutable
set search_path = ''
as $$
begin
  return round((p_value #>> '{}')::numeric, 2);
exception when others then
  return null;
end
$$;

create or replace function public.crm_on_payment(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_id text := left(nullif(coalesce(v_data ->> '_id', v_data ->> 'id'), ''), 128);
  v_details jsonb := coalesce(v_data -> 'contactDetails', v_data -> 'contactSnapshot', '{}'::jsonb);
  v_contact public.crm_contacts;
  v_old public.crm_invoices;
  v_invoice public.crm_invoices;
  v_status text := lower(coalesce(nullif(v_data ->> 'paymentStatus', ''), nullif(v_data ->> 'status', ''), ''));
  v_currency text := left(nullif(v_data ->> 'currency', ''), 8);
  v_method text := left(nullif(coalesce(
    v_data ->> 'paymentMethod', v_data ->> 'paymentMode', v_data -> 'paymentDetails' ->> 'method'
  ), ''), 64);
  v_amount numeric;
  v_customer text;
  v_number text := left(nullif(coalesce(v_data ->> 'invoiceNumber', v_data ->> 'number'), ''), 64);
  v_failed boolean;
  v_assignee text;
  v_items jsonb := '[]'::jsonb;
  v_total jsonb;
begin
  if v_id is null then
    raise exception 'a payment event needs an id (_id)' using errcode = '22023';
  end if;
  v_contact := private.crm_contact(
    v_location, coalesce(nullif(v_data ->> 'contactId', ''), nullif(v_details ->> 'id', ''))
  );
  v_customer := coalesce(
    nullif(v_details ->> 'name', ''),
    nullif(trim(concat_ws(' ', v_details ->> 'firstName', v_details ->> 'lastName')), ''),
    nullif(private.crm_contact_name(v_contact), ''),
    ''
  );
  v_assignee := private.crm_assignee(p_event ->> 'assignee', v_contact.id);
  v_failed := v_type in ('InvoicePaymentFailed', 'PaymentFailed') or v_status = 'failed';

  if v_type like 'Invoice%' then
    select * into v_old from public.crm_invoices where id = v_id for update;
    insert into public.crm_invoices as i (
      id, location_id, contact_id, number, customer_name, status, currency, total, amount_paid,
      amount_due
    ) values (
      v_id, v_location, v_contact.id, v_number, left(v_customer, 400),
      left(coalesce(nullif(v_status, ''), 'draft'), 32), v_currency,
      coalesce(private.crm_money(v_data -> 'total'), 0),
      coalesce(private.crm_money(v_data -> 'amountPaid'),
        case when v_type = 'InvoicePaid' then private.crm_money(v_data -> 'total') end, 0),
      coalesce(private.crm_money(v_data -> 'amountDue'), 0)
    )
    on conflict (id) do update set
      contact_id = coalesce(excluded.contact_id, i.contact_id),
      number = coalesce(excluded.number, i.number),
      customer_name = coalesce(nullif(excluded.customer_name, ''), i.customer_name),
      status = case when v_failed then i.status else excluded.status end,
      currency = coalesce(excluded.currency, i.currency),
      total = case when v_data ? 'total' then excluded.total else i.total end,
      -- amountPaid only grows: an older snapshot arriving late does not undo a payment
      amount_paid = greatest(i.amount_paid, excluded.amount_paid),
      amount_due = case when v_data ? 'amountDue' then excluded.amount_due else i.amount_due end,
      updated_at = now()
    returning * into v_invoice;
    v_amount := v_invoice.amount_paid - coalesce(v_old.amount_paid, 0);
    if v_failed then
      v_amount := coalesce(private.crm_money(v_data -> 'amount'), v_invoice.amount_due, v_invoice.total);
    elsif v_type not in ('InvoicePaid', 'InvoicePartiallyPaid') or v_amount <= 0 then
      v_amount := null;
    else
      insert into public.crm_payments (location_id, invoice_id, contact_id, amount, currency, method)
        values (v_location, v_id, v_contact.id, v_amount, v_invoice.currency, v_method);
    end if;
    v_currency := coalesce(v_currency, v_invoice.currency);
  else
    -- orders (OrderCreate / OrderStatusUpdate) and bare payment failures
    v_amount := coalesce(private.crm_money(v_data -> 'amount'), private.crm_money(v_data -> 'total'));
    if not v_failed then
      if v_status in ('paid', 'completed', 'succeeded', 'success') and coalesce(v_amount, 0) > 0 then
        insert into public.crm_payments (location_id, order_id, contact_id, amount, currency, method)
          values (v_location, v_id, v_contact.id, v_amount, v_currency, v_method)
          on conflict (order_id) do nothing;
        if not found then
          v_amount := null;  -- this order was counted already
        end if;
      else
        v_amount := null;
      end if;
    end if;
  end if;

  if v_failed then
    v_items := case when v_assignee is not null
      then private.crm_to_user(v_assignee, 'payment-failed', jsonb_build_object(
        'amount', v_amount, 'currency', v_currency, 'customerName', v_customer,
        'invoiceNumber', v_number,
        'reason', left(coalesce(v_data ->> 'failureReason', v_data ->> 'reason', v_data ->> 'error'), 200)
      ))
      else private.crm_to_location(v_location, 'payment-failed', jsonb_build_object(
        'amount', v_amount, 'currency', v_currency, 'customerName', v_customer,
        'invoiceNumber', v_number
      )) end;
  elsif v_amount is not null then
    v_total := private.crm_revenue_today(v_location);
    v_items := private.crm_to_user(v_assignee, 'payment-received', jsonb_build_object(
        'amount', v_amount, 'currency', v_currency, 'customerName', v_customer,
        'invoiceNumber', v_number, 'paymentMethod', v_method
      ))
      || private.crm_to_location(v_location, 'revenue-update', jsonb_build_object(
        'type', 'payment', 'amount', v_amount, 'total', v_total -> 'total',
        'currency', coalesce(v_currency, v_total ->> 'currency'), 'day', v_total -> 'day'
      ));
  end if;
  return jsonb_build_object('id', v_id, 'amount', v_amount, 'failed', v_failed)
    || private.crm_emit(v_items);
end
$$;

revoke execute on function private.crm_revenue_today(text) from public, anon, authenticated;
revoke execute on function private.crm_money(jsonb) from public, anon, authenticated;
revoke execute on function public.crm_on_payment(jsonb) from public, anon, authenticated;
grant execute on function private.crm_revenue_today(text) to service_role;
grant execute on function private.crm_money(jsonb) to service_role;
grant execute on function public.crm_on_payment(jsonb) to service_role;
