-- billing.status: what a user's billing looks like, in one call (service role; the api passes
-- the caller's id).
--
--   public.billing_status(user, limit) -> {balance, subscription, paymentIssue, flagged,
--                                          entries: [{delta, reason, ref, createdAt}]}
-- paymentIssue: the newest invoice whose payment failed or needs the customer's action (and
-- was not paid since), with its hosted page; flagged: an operator's attention is needed
-- (a refund or dispute took back credits already spent).

create or replace function public.billing_status(p_user_id text, p_limit integer)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private.billing_summary(p_user_id) || jsonb_build_object(
    'paymentIssue', (
      select jsonb_build_object(
        'invoice', i.invoice_id, 'status', i.status, 'url', i.hosted_invoice_url
      )
      from public.billing_invoices i
      where i.user_id = p_user_id and i.status <> 'paid'
      order by i.event_created desc, i.updated_at desc
      limit 1
    ),
    'flagged', (
      select jsonb_build_object('at', a.flagged_at, 'reason', a.flag_reason)
      from public.billing_accounts a
      where a.user_id = p_user_id and a.flagged_at is not null
    ),
    'entries', coalesce((
      select jsonb_agg(jsonb_build_object(
        'delta', e.delta, 'reason', e.reason, 'ref', e.ref, 'createdAt', e.created_at
      ) order by e.id desc)
      from (
        select l.id, l.delta, l.reason, l.ref, l.created_at
        from public.credit_ledger l
        where l.user_id = p_user_id
        order by l.id desc
        limit least(greatest(coalesce(p_limit, 20), 1), 100)
      ) e
    ), '[]'::jsonb)
  )
$$;

revoke execute on function public.billing_status(text, integer) from public, anon, authenticated;
grant execute on function public.billing_status(text, integer) to service_role;
