-- Calls: who may dial from which number, and how often (issue 10, security findings).
--
--   calls_create_outbound  replaced (calls.start, before the provider is asked to dial):
--     caller id   p_from, when given, must be one of the owner's call_numbers (PT403);
--                 without it the owner's own number is used: p_default_from (VOICE_FROM_NUMBER)
--                 if they own it, else their oldest number; none at all is PT403
--     daily cap   at most p_daily_limit outbound calls per owner in the last 24 hours (PT429,
--                 DETAIL = seconds until the oldest of them leaves the window). The owner's
--                 calls.start serialize on a transaction-scoped advisory lock, so concurrent
--                 requests cannot both see room for one more call.
--   The 6-argument form is dropped: nothing may create an outbound call without these checks.
--   Destinations (country codes, premium ranges) are checked before this, by calls.start.

drop function public.calls_create_outbound(text, text, text, text, text, jsonb);

create function public.calls_create_outbound(
  p_owner text,
  p_provider text,
  p_from text,
  p_to text,
  p_goal text,
  p_context jsonb,
  p_default_from text default null,
  p_daily_limit integer default 50
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_from text;
  v_count integer;
  v_oldest timestamptz;
  v_call jsonb;
begin
  if p_daily_limit is null or p_daily_limit < 0 then
    raise exception 'the daily call limit is 0 or more' using errcode = '22023';
  end if;
  if p_from is not null then
    select n.number into v_from from public.call_numbers n
      where n.number = p_from and n.owner_id = p_owner;
    if v_from is null then
      raise exception 'fromNumber % is not one of your call numbers', left(p_from, 20)
        using errcode = 'PT403';
    end if;
  else
    select n.number into v_from from public.call_numbers n
      where n.owner_id = p_owner
      order by n.number = coalesce(p_default_from, '') desc, n.created_at, n.number
      limit 1;
    if v_from is null then
      raise exception 'you have no call number to call from: calls go out from a number you own'
        using errcode = 'PT403';
    end if;
  end if;

  perform pg_advisory_xact_lock(hashtextextended('calls-outbound:' || p_owner, 0));
  select count(*), min(c.created_at) into v_count, v_oldest
    from public.calls c
    where c.owner_id = p_owner
      and c.direction = 'outbound'
      and c.created_at > now() - interval '24 hours';
  if v_count >= p_daily_limit then
    raise exception 'daily call limit reached: at most % outbound calls per 24 hours',
      p_daily_limit
      using errcode = 'PT429',
        detail = greatest(1, ceil(extract(epoch from
          coalesce(v_oldest, now()) + interval '24 hours' - clock_timestamp()
        )))::integer::text;
  end if;

  insert into public.calls (owner_id, provider, direction, from_number, to_number, goal, context)
  values (p_owner, p_provider, 'outbound', v_from, p_to, p_goal, coalesce(p_context, '{}'))
  returning to_jsonb(calls.*) into v_call;
  return v_call;
end
$$;

revoke execute on function public.calls_create_outbound(
  text, text, text, text, text, jsonb, text, integer
) from public, anon, authenticated;
grant execute on function public.calls_create_outbound(
  text, text, text, text, text, jsonb, text, integer
) to service_role;
