-- The Stripe webhook processors (POST /api/webhooks/stripe, lib.features.billing.webhook):
-- `public.<name>(p_event jsonb) returns jsonb`, run by webhook_ingest in the transaction that
-- stores the event. Stripe delivers at least once and in any order, so each is idempotent
-- and order-independent:
--
--   billing_on_checkout_session   checkout.session.completed / async_payment_succeeded /
--                                 async_payment_failed: a credit pack is granted once its
--                                 payment_status is paid (or no_payment_required), as
--                                 grant:{session id}; metadata.credits was set at checkout
--   billing_on_subscription       customer.subscription.created / updated / deleted /
--                                 trial_will_end: applied only when newer (event.created) than
--                                 the last applied; a canceled subscription stays canceled
--   billing_on_invoice            invoice.paid: billing_reason subscription_create or
--                                 subscription_cycle grants the plan's monthly credits as
--                                 grant:{invoice id} (the subscription is under
--                                 parent.subscription_details in API 2026-10-28);
--                                 invoice.payment_failed / payment_action_required: the
--                                 user's payment problem, until that invoice is paid
--   billing_on_charge_refunded    charge.refunded (cumulative amount_refunded) and
--   billing_on_dispute_created    charge.dispute.created: recorded, then the grant paid by
--                                 that PaymentIntent is debited in proportion (a dispute:
--                                 all of it), even below zero: the debit is a negative
--                                 ledger row and the account is flagged, never clamped.
--                                 A reversal that arrives before its grant is applied when
--                                 the grant arrives.
--
-- Each applied change queues `billing-updated` {balance, subscription} on
-- private-user-{user}. An event for a customer that is not ours is acknowledged and ignored.
-- Amounts the plan decides (monthly credits) come from the subscription's metadata, set by
-- billing.checkout, else from `sockless_plan`, which the endpoint adds from BillingSettings.

create or replace function private.billing_apply_reversals(p_payment_intent text)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_grant public.billing_grants;
  v_refund integer;
  v_dispute integer;
  v_target integer;
  v_reason text;
  v_total integer := 0;
  v_balance bigint;
begin
  if p_payment_intent is null then
    return 0;
  end if;
  for v_grant in
    select * from public.billing_grants g where g.payment_intent = p_payment_intent
    order by g.ref for update
  loop
    select
      coalesce(max(ceil(v_grant.credits * least(r.amount, r.charge_amount)::numeric
        / r.charge_amount)) filter (where r.kind = 'refund' and r.charge_amount > 0), 0),
      coalesce(max(v_grant.credits) filter (where r.kind = 'dispute'), 0)
      into v_refund, v_dispute
      from public.billing_reversals r where r.payment_intent = p_payment_intent;
    v_target := least(v_grant.credits, greatest(v_refund, v_dispute));
    continue when v_target <= v_grant.debited;
    v_reason := case when v_dispute >= v_refund then 'dispute' else 'refund' end;
    perform private.credit_lock(v_grant.user_id);
    insert into public.credit_ledger (user_id, delta, reason, ref)
      values (v_grant.user_id, -(v_target - v_grant.debited), v_reason,
              v_grant.ref || ':' || v_target)
      on conflict (user_id, reason, ref) where ref is not null do nothing;
    update public.billing_grants set debited = v_target where ref = v_grant.ref;
    update public.billing_reversals set user_id = v_grant.user_id
      where payment_intent = p_payment_intent and user_id is null;
    v_total := v_total + (v_target - v_grant.debited);
    v_balance := public.credit_balance(v_grant.user_id);
    if v_balance < 0 then
      perform private.billing_flag(v_grant.user_id, format(
        '%s of grant:%s took back %s credits; the balance is %s (credits already spent)',
        v_reason, v_grant.ref, v_target - v_grant.debited, v_balance));
    elsif v_reason = 'dispute' then
      perform private.billing_flag(v_grant.user_id, format(
        'dispute on %s: grant:%s taken back (%s credits)',
        p_payment_intent, v_grant.ref, v_target - v_grant.debited));
    end if;
  end loop;
  return v_total;
end
$$;

-- Record a grant (once per ref), write its ledger row, apply reversals already known.
create or replace function private.billing_grant(
  p_user_id text, p_ref text, p_kind text, p_credits integer, p_payment_intent text
)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  insert into public.billing_grants (ref, user_id, kind, credits, payment_intent)
    values (p_ref, p_user_id, p_kind, p_credits, p_payment_intent)
    on conflict (ref) do nothing;
  if not found then
    return false;
  end if;
  perform public.credit_grant(p_user_id, p_credits, 'grant', p_ref);
  perform private.billing_apply_reversals(p_payment_intent);
  return true;
end
$$;

-- The result of an applied change, with its `billing-updated` queued. (Two statements: a
-- stable outbox_rows in the statement that inserts the row would not see it.)
create or replace function private.billing_applied(p_user_id text, p_result jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_event bigint;
begin
  v_event := private.billing_publish(p_user_id);
  return p_result || jsonb_build_object(
    'user', p_user_id, 'events', public.outbox_rows(array[v_event])
  );
end
$$;

create or replace function public.billing_on_checkout_session(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_session jsonb := p_event -> 'data' -> 'object';
  v_type text := p_event ->> 'type';
  v_id text := v_session ->> 'id';
  v_pi text := v_session ->> 'payment_intent';
  v_user text;
  v_paid boolean;
  v_status text;
  v_credits integer;
  v_granted boolean := false;
  v_changed boolean;
begin
  if v_id is null then
    raise exception 'a checkout.session event needs data.object.id' using errcode = '22023';
  end if;
  perform private.billing_lock_payment(v_pi);
  v_user := private.billing_user_for(
    v_session ->> 'customer',
    coalesce(v_session ->> 'client_reference_id', v_session -> 'metadata' ->> 'user_id')
  );
  if v_user is null then
    return jsonb_build_object('ignored', 'not a customer of ours');
  end if;
  perform private.credit_lock(v_user);

  v_paid := v_type <> 'checkout.session.async_payment_failed'
    and v_session ->> 'payment_status' in ('paid', 'no_payment_required');
  v_status := case
    when v_type = 'checkout.session.async_payment_failed' then 'failed'
    when v_paid then 'paid'
    else 'pending' end;
  insert into public.billing_checkouts as c (session_id, user_id, mode, status)
    values (v_id, v_user, coalesce(v_session ->> 'mode', 'payment'), v_status)
    on conflict (session_id) do update
      set status = excluded.status, updated_at = now()
      where c.status = 'pending' and excluded.status <> 'pending';
  v_changed := found;

  if v_paid and v_session ->> 'mode' = 'payment' then
    v_credits := (v_session -> 'metadata' ->> 'credits')::integer;
    if coalesce(v_credits, 0) < 1 then
      return jsonb_build_object('ignored', 'a payment without metadata.credits');
    end if;
    v_granted := private.billing_grant(v_user, v_id, 'credits', v_credits, v_pi);
  end if;

  if v_granted or v_changed then
    return private.billing_applied(v_user, jsonb_build_object(
      'session', v_id, 'status', v_status, 'granted', case when v_granted then v_credits end));
  end if;
  return jsonb_build_object('session', v_id, 'status', v_status, 'changed', false);
end
$$;

create or replace function public.billing_on_subscription(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_sub jsonb := p_event -> 'data' -> 'object';
  v_created bigint := (p_event ->> 'created')::bigint;
  v_deleted boolean := p_event ->> 'type' = 'customer.subscription.deleted';
  v_item jsonb := v_sub -> 'items' -> 'data' -> 0;
  v_status text;
  v_period_end bigint;
  v_user text;
  v_row public.subscriptions;
begin
  if v_sub ->> 'id' is null or v_created is null then
    raise exception 'a subscription event needs created and data.object.id'
      using errcode = '22023';
  end if;
  v_user := private.billing_user_for(v_sub ->> 'customer', v_sub -> 'metadata' ->> 'user_id');
  if v_user is null then
    return jsonb_build_object('ignored', 'not a customer of ours');
  end if;
  perform private.credit_lock(v_user);
  v_status := case when v_deleted then 'canceled' else v_sub ->> 'status' end;
  -- API 2026-10-28: the period is on the subscription item (older versions: top level)
  v_period_end := coalesce(
    (v_item ->> 'current_period_end')::bigint, (v_sub ->> 'current_period_end')::bigint
  );
  if v_period_end is null then
    raise exception 'subscription % has no current_period_end', v_sub ->> 'id'
      using errcode = '22023';
  end if;

  select * into v_row from public.subscriptions s
    where s.stripe_subscription_id = v_sub ->> 'id' for update;
  if found and (v_row.stripe_event_created > v_created
                or (v_row.status = 'canceled' and v_status <> 'canceled')) then
    return jsonb_build_object('subscription', v_sub ->> 'id', 'stale', true);
  end if;

  insert into public.subscriptions as s (
    user_id, status, current_period_end, stripe_subscription_id, stripe_customer_id, price_id,
    cancel_at_period_end, trial_end, stripe_event_created
  ) values (
    v_user, v_status, to_timestamp(v_period_end), v_sub ->> 'id', v_sub ->> 'customer',
    v_item -> 'price' ->> 'id', coalesce((v_sub ->> 'cancel_at_period_end')::boolean, false)
      or (v_sub ->> 'cancel_at') is not null and not v_deleted,
    to_timestamp((v_sub ->> 'trial_end')::bigint), v_created
  )
  on conflict (stripe_subscription_id) do update
    set status = excluded.status,
        current_period_end = excluded.current_period_end,
        price_id = excluded.price_id,
        cancel_at_period_end = excluded.cancel_at_period_end,
        trial_end = excluded.trial_end,
        stripe_event_created = excluded.stripe_event_created;
  return private.billing_applied(v_user, jsonb_build_object(
    'subscription', v_sub ->> 'id', 'status', v_status));
end
$$;

create or replace function public.billing_on_invoice(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_invoice jsonb := p_event -> 'data' -> 'object';
  v_type text := p_event ->> 'type';
  v_id text := v_invoice ->> 'id';
  v_details jsonb := v_invoice -> 'parent' -> 'subscription_details';
  v_created bigint := coalesce((p_event ->> 'created')::bigint, 0);
  v_pi text;
  v_user text;
  v_credits integer;
  v_granted boolean := false;
  v_status text;
  v_changed boolean;
begin
  if v_id is null then
    raise exception 'an invoice event needs data.object.id' using errcode = '22023';
  end if;
  -- Invoice.payments (InvoicePayment: payment.payment_intent) ties the grant to its charge
  select p -> 'payment' ->> 'payment_intent' into v_pi
    from jsonb_array_elements(coalesce(v_invoice -> 'payments' -> 'data', '[]'::jsonb)) p
    where p -> 'payment' ->> 'payment_intent' is not null
    order by (p ->> 'status' = 'paid') desc
    limit 1;
  perform private.billing_lock_payment(v_pi);
  v_user := private.billing_user_for(
    v_invoice ->> 'customer',
    coalesce(v_details -> 'metadata' ->> 'user_id', v_invoice -> 'metadata' ->> 'user_id')
  );
  if v_user is null then
    return jsonb_build_object('ignored', 'not a customer of ours');
  end if;
  perform private.credit_lock(v_user);

  v_status := case v_type
    when 'invoice.paid' then 'paid'
    when 'invoice.payment_failed' then 'payment_failed'
    else 'action_required' end;
  insert into public.billing_invoices as i
      (invoice_id, user_id, status, hosted_invoice_url, event_created)
    values (v_id, v_user, v_status, left(v_invoice ->> 'hosted_invoice_url', 2048), v_created)
    on conflict (invoice_id) do update
      set status = excluded.status, hosted_invoice_url = excluded.hosted_invoice_url,
          event_created = excluded.event_created, updated_at = now()
      where i.status <> 'paid'
        and (excluded.status = 'paid' or excluded.event_created >= i.event_created)
        and i.status is distinct from excluded.status;
  v_changed := found;

  if v_type = 'invoice.paid'
     and v_invoice ->> 'billing_reason' in ('subscription_create', 'subscription_cycle') then
    v_credits := coalesce(
      (v_details -> 'metadata' ->> 'monthly_credits')::integer,
      (p_event -> 'sockless_plan' ->> 'subscriptionMonthlyCredits')::integer
    );
    if coalesce(v_credits, 0) > 0 then
      v_granted := private.billing_grant(v_user, v_id, 'subscription', v_credits, v_pi);
    end if;
  end if;

  if v_granted or v_changed then
    return private.billing_applied(v_user, jsonb_build_object(
      'invoice', v_id, 'status', v_status, 'granted', case when v_granted then v_credits end));
  end if;
  return jsonb_build_object('invoice', v_id, 'status', v_status, 'changed', false);
end
$$;

create or replace function private.billing_reverse(
  p_kind text, p_id text, p_user_id text, p_payment_intent text, p_charge_id text,
  p_amount bigint, p_charge_amount bigint
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user text := p_user_id;
  v_debited integer;
begin
  if p_id is null or p_amount is null then
    raise exception 'a % event needs an id and an amount', p_kind using errcode = '22023';
  end if;
  perform private.billing_lock_payment(p_payment_intent);
  if v_user is null then
    select g.user_id into v_user from public.billing_grants g
      where g.payment_intent = p_payment_intent limit 1;
  end if;
  if v_user is not null then
    perform private.credit_lock(v_user);
  end if;
  insert into public.billing_reversals as r
      (kind, id, user_id, payment_intent, charge_id, amount, charge_amount)
    values (p_kind, p_id, v_user, p_payment_intent, p_charge_id, p_amount,
            coalesce(p_charge_amount, p_amount))
    on conflict (kind, id) do update
      set amount = greatest(r.amount, excluded.amount),
          user_id = coalesce(r.user_id, excluded.user_id),
          updated_at = now();
  v_debited := private.billing_apply_reversals(p_payment_intent);
  if v_debited > 0 then
    select g.user_id into v_user from public.billing_grants g
      where g.payment_intent = p_payment_intent limit 1;
    return private.billing_applied(v_user, jsonb_build_object(
      p_kind, p_id, 'debited', v_debited));
  end if;
  return jsonb_build_object(p_kind, p_id, 'debited', 0);
end
$$;

create or replace function public.billing_on_charge_refunded(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_charge jsonb := p_event -> 'data' -> 'object';
  v_user text;
begin
  v_user := private.billing_user_for(v_charge ->> 'customer', v_charge -> 'metadata' ->> 'user_id');
  return private.billing_reverse(
    'refund', v_charge ->> 'id', v_user, v_charge ->> 'payment_intent', v_charge ->> 'id',
    (v_charge ->> 'amount_refunded')::bigint, (v_charge ->> 'amount')::bigint
  );
end
$$;

create or replace function public.billing_on_dispute_created(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_dispute jsonb := p_event -> 'data' -> 'object';
begin
  -- a Dispute names its charge and PaymentIntent, not the customer: the grant tells whose
  return private.billing_reverse(
    'dispute', v_dispute ->> 'id', null, v_dispute ->> 'payment_intent', v_dispute ->> 'charge',
    (v_dispute ->> 'amount')::bigint, null
  );
end
$$;

revoke execute on function private.billing_apply_reversals(text) from public, anon, authenticated;
revoke execute on function private.billing_grant(text, text, text, integer, text)
  from public, anon, authenticated;
revoke execute on function private.billing_applied(text, jsonb) from public, anon, authenticated;
revoke execute on function private.billing_reverse(text, text, text, text, text, bigint, bigint)
  from public, anon, authenticated;
revoke execute on function public.billing_on_checkout_session(jsonb)
  from public, anon, authenticated;
revoke execute on function public.billing_on_subscription(jsonb) from public, anon, authenticated;
revoke execute on function public.billing_on_invoice(jsonb) from public, anon, authenticated;
revoke execute on function public.billing_on_charge_refunded(jsonb)
  from public, anon, authenticated;
revoke execute on function public.billing_on_dispute_created(jsonb)
  from public, anon, authenticated;

grant execute on function public.billing_on_checkout_session(jsonb) to service_role;
grant execute on function public.billing_on_subscription(jsonb) to service_role;
grant execute on function public.billing_on_invoice(jsonb) to service_role;
grant execute on function public.billing_on_charge_refunded(jsonb) to service_role;
grant execute on function public.billing_on_dispute_created(jsonb) to service_role;

-- definer helpers: other definer functions and triggers call them; the service role may too
grant execute on function private.billing_apply_reversals(text) to service_role;
grant execute on function private.billing_grant(text, text, text, integer, text) to service_role;
grant execute on function private.billing_applied(text, jsonb) to service_role;
grant execute on function private.billing_reverse(text, text, text, text, text, bigint, bigint) to service_role;
