-- Transactional outbox for realtime events. A command (one SQL function = one transaction)
-- changes state and calls public.outbox_enqueue() in the same transaction, so an event exists
-- if and only if its state change committed. After the command returns, the api function
-- publishes the rows it queued and marks them published; whatever is left (the provider was
-- down, the function died) is relayed later by public.outbox_claim() callers: a few rows per
-- later write, and the `outbox-relay` cron. Delivery is at-least-once; `id` is the event id
-- clients dedupe on, and public.outbox_history() replays a channel after an id.
--
-- Order. `id` (identity) is the global order. outbox_enqueue() takes a transaction lock per
-- channel, so on one channel ids commit in id order: a reader that has seen id n never finds a
-- smaller id on that channel later (history "after n" is complete). Commands that enqueue on
-- several channels should do so in a stable order (e.g. sorted) to avoid lock-order deadlocks.
-- Publishing keeps per-channel order: a claim never hands out a row while an earlier row of
-- its channel is unpublished and not part of the same claim (held by another relay, backing
-- off, or still owned by the function that queued it), and a row queued while its channel has
-- a backlog is left to the relay (`inline` false) instead of overtaking it.
--
-- Row lifecycle, through next_attempt_at:
--   queued    now() + 5 s: the queuing function publishes it inline ("older than a few
--             seconds" = stale, the relay's to take); now() when the channel has a backlog
--   claimed   now() + lease: one relay owns it until the lease ends
--   failed    now() + backoff(attempts): 2^attempts growth, capped by the caller
--   parked    'infinity' after max attempts: never retried, never blocks its channel,
--             still in history; outbox_cleanup() removes it after the retention
--   published published_at set
--
-- Service role only: RLS on, no policies; commands run as security definer functions.

create table public.outbox (
  id bigint generated always as identity primary key,
  channel text not null
    check (char_length(channel) between 1 and 200 and channel ~ '^[-a-zA-Z0-9_=@,.;]+$'),
  event text not null
    check (char_length(event) between 1 and 200 and event ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  data jsonb not null default '{}'::jsonb check (jsonb_typeof(data) = 'object'),
  created_at timestamptz not null default now(),
  published_at timestamptz,
  attempts integer not null default 0 check (attempts >= 0),
  last_error text check (char_length(last_error) <= 1000),
  next_attempt_at timestamptz not null default now()
);

comment on table public.outbox is
  'Realtime events queued in the transaction of their state change; see migration header.';

create index outbox_unpublished_idx on public.outbox (id) where published_at is null;
create index outbox_channel_id_idx on public.outbox (channel, id);
create index outbox_published_at_idx on public.outbox (published_at)
  where published_at is not null;

alter table public.outbox enable row level security;

revoke all on public.outbox from anon, authenticated;
grant select, update, delete on public.outbox to service_role;

-- The JSON shape of one outbox event, everywhere it leaves the database.
create or replace function public.outbox_event_json(p_row public.outbox)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_row.id,
    'channel', p_row.channel,
    'event', p_row.event,
    'data', p_row.data,
    'at', to_char(p_row.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  )
$$;

-- Called by command functions, inside their transaction. Returns the event id.
create or replace function public.outbox_enqueue(p_channel text, p_event text, p_data jsonb)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_backlog boolean;
  v_id bigint;
begin
  if p_channel is null or p_channel !~ '^[-a-zA-Z0-9_=@,.;]{1,200}$' then
    raise exception 'invalid channel name: %', left(p_channel, 210) using errcode = '22023';
  end if;
  if p_event is null or p_event !~ '^[a-z0-9]+(-[a-z0-9]+)*$' or char_length(p_event) > 200 then
    raise exception 'invalid event name (kebab-case): %', left(p_event, 210)
      using errcode = '22023';
  end if;
  -- one writer per channel at a time until commit: ids on a channel commit in order
  perform pg_advisory_xact_lock(hashtextextended('outbox:' || p_channel, 0));
  select exists (
    select 1 from public.outbox o
    where o.channel = p_channel
      and o.published_at is null
      and o.next_attempt_at < 'infinity'
      and (o.attempts > 0 or o.next_attempt_at <= now())
  ) into v_backlog;
  insert into public.outbox (channel, event, data, next_attempt_at)
  values (
    p_channel,
    p_event,
    coalesce(p_data, '{}'::jsonb),
    case when v_backlog then now() else now() + interval '5 seconds' end
  )
  returning id into v_id;
  return v_id;
end
$$;

-- What a command returns to its caller: the events it queued, for the caller to publish.
-- `inline` false = the channel had a backlog, so the relay (not the caller) publishes it.
create or replace function public.outbox_rows(p_ids bigint[])
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    jsonb_agg(
      public.outbox_event_json(o) || jsonb_build_object(
        'inline', o.published_at is null and o.attempts = 0 and o.next_attempt_at > now()
      )
      order by o.id
    ),
    '[]'::jsonb
  )
  from public.outbox o
  where o.id = any(p_ids)
$$;

-- Hand out up to p_limit due rows, oldest first, each to one caller for p_lease_seconds.
create or replace function public.outbox_claim(p_limit integer, p_lease_seconds double precision)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_claimed jsonb;
begin
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'claim limit must be between 1 and 1000' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = '22023';
  end if;
  with candidates as (
    select o.id, o.channel
    from public.outbox o
    where o.published_at is null and o.next_attempt_at <= now()
    order by o.id
    limit p_limit
    for update skip locked
  ),
  ready as (
    select c.id
    from candidates c
    where not exists (
      select 1 from public.outbox e
      where e.channel = c.channel
        and e.id < c.id
        and e.published_at is null
        and e.next_attempt_at < 'infinity'
        and e.id not in (select id from candidates)
    )
  ),
  claimed as (
    update public.outbox o
    set next_attempt_at = now() + make_interval(secs => p_lease_seconds)
    from ready r
    where o.id = r.id
    returning o
  )
  select coalesce(jsonb_agg(public.outbox_event_json(c.o) order by (c.o).id), '[]'::jsonb)
  into v_claimed
  from claimed c;
  return v_claimed;
end
$$;

-- Published: never handed out again. Also says how many stale rows are due, so a write pays
-- for a claim only when there is something to relay.
create or replace function public.outbox_mark_published(p_ids bigint[])
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_marked integer;
  v_due integer;
begin
  update public.outbox
  set published_at = now(), last_error = null
  where id = any(p_ids) and published_at is null;
  get diagnostics v_marked = row_count;
  select count(*) into v_due
  from (
    select 1 from public.outbox
    where published_at is null and next_attempt_at <= now()
    limit 100
  ) due;
  return jsonb_build_object('marked', v_marked, 'due', v_due);
end
$$;

-- Not published this time: count the attempt, keep the reason, back off (or park).
create or replace function public.outbox_record_failure(
  p_ids bigint[],
  p_error text,
  p_base_seconds double precision,
  p_cap_seconds double precision,
  p_max_attempts integer
)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_count integer;
begin
  if p_base_seconds is null or p_base_seconds <= 0 or p_cap_seconds is null
     or p_cap_seconds < p_base_seconds or p_max_attempts is null or p_max_attempts < 1 then
    raise exception 'invalid backoff policy' using errcode = '22023';
  end if;
  update public.outbox
  set attempts = attempts + 1,
      last_error = left(p_error, 1000),
      next_attempt_at = case
        when attempts + 1 >= p_max_attempts then 'infinity'::timestamptz
        else now() + make_interval(
          secs => least(p_cap_seconds, p_base_seconds * power(2, least(attempts, 30)))
        )
      end
  where id = any(p_ids) and published_at is null;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Events on one channel after an id, oldest first (published or not: history is the record).
create or replace function public.outbox_history(p_channel text, p_after bigint, p_limit integer)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'history limit must be between 1 and 1000' using errcode = '22023';
  end if;
  return (
    select coalesce(jsonb_agg(public.outbox_event_json(o) order by o.id), '[]'::jsonb)
    from (
      select * from public.outbox
      where channel = p_channel and id > coalesce(p_after, 0)
      order by id
      limit p_limit
    ) o
  );
end
$$;

-- Retention: delete published (and parked) rows older than p_retention_seconds, at most
-- p_limit per call so one cron run stays short. Returns how many were deleted.
create or replace function public.outbox_cleanup(
  p_retention_seconds double precision,
  p_limit integer
)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  if p_retention_seconds is null or p_retention_seconds < 60 then
    raise exception 'retention must be at least 60 seconds' using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 100000 then
    raise exception 'cleanup limit must be between 1 and 100000' using errcode = '22023';
  end if;
  with doomed as (
    select id from public.outbox
    where (published_at < now() - make_interval(secs => p_retention_seconds))
       or (next_attempt_at = 'infinity'
           and created_at < now() - make_interval(secs => p_retention_seconds))
    order by id
    limit p_limit
    for update skip locked
  )
  delete from public.outbox o using doomed d where o.id = d.id;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

revoke execute on function public.outbox_event_json(public.outbox) from public, anon, authenticated;
revoke execute on function public.outbox_enqueue(text, text, jsonb) from public, anon, authenticated;
revoke execute on function public.outbox_rows(bigint[]) from public, anon, authenticated;
revoke execute on function public.outbox_claim(integer, double precision)
  from public, anon, authenticated;
revoke execute on function public.outbox_mark_published(bigint[]) from public, anon, authenticated;
revoke execute on function public.outbox_record_failure(
  bigint[], text, double precision, double precision, integer
) from public, anon, authenticated;
revoke execute on function public.outbox_history(text, bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.outbox_cleanup(double precision, integer)
  from public, anon, authenticated;

grant execute on function public.outbox_event_json(public.outbox) to service_role;
grant execute on function public.outbox_enqueue(text, text, jsonb) to service_role;
grant execute on function public.outbox_rows(bigint[]) to service_role;
grant execute on function public.outbox_claim(integer, double precision) to service_role;
grant execute on function public.outbox_mark_published(bigint[]) to service_role;
grant execute on function public.outbox_record_failure(
  bigint[], text, double precision, double precision, integer
) to service_role;
grant execute on function public.outbox_history(text, bigint, integer) to service_role;
grant execute on function public.outbox_cleanup(double precision, integer) to service_role;
