-- Offline notifications for messaging: who gets an SMS or an email about messages they missed.
--
--   notification_contacts   how to reach a user (channel sms | email | none, phone, email);
--                           written by the app's backend with the service role (addresses are
--                           verified there, so nobody can point SMS at someone else's phone);
--                           users read their own row
--   message_notifications   one row per (recipient, message) queued by messaging_send when the
--                           recipient was offline (private.is_user_online). status:
--                             pending   waiting for the `notify-offline` cron
--                             batched   part of a notification_batches row (sent or not, it is
--                                       never offered again: at most one notification per item)
--                             read      the recipient read the message before the cron came
--                             dropped   failed for good (max attempts or a permanent refusal)
--   notification_batches    ONE notification to one recipient summarizing their pending items.
--                           status sending -> sent | failed | skipped (no way to reach them).
--                           A batch left in `sending` (the function died mid-send) stays so:
--                           an unknown outcome is not retried, nobody is notified twice.
--
-- public.messaging_notify_claim() hands each due recipient to exactly one caller: recipients are
-- taken with pg_try_advisory_xact_lock (transaction-scoped, fine behind Supabase's pooler), and
-- their items are re-read after the lock, so a concurrent claim that just committed is seen.
-- public.messaging_notify_finish() records the outcome: a definite, transient failure puts the
-- items back with a backoff (retry_at) until p_max_attempts; anything else is final.
-- Service role only for the queue tables: RLS on, no policies.

create table public.notification_contacts (
  user_id text primary key check (char_length(user_id) between 1 and 128),
  channel text not null default 'email' check (channel in ('sms', 'email', 'none')),
  email text check (char_length(email) <= 320 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  updated_at timestamptz not null default now()
);

create trigger notification_contacts_touch_updated_at
  before update on public.notification_contacts
  for each row execute function public.touch_updated_at();

create table public.notification_batches (
  id bigint generated always as identity primary key,
  recipient_id text not null check (char_length(recipient_id) between 1 and 128),
  channel text not null check (channel in ('sms', 'email', 'none')),
  address text check (char_length(address) <= 320),
  status text not null default 'sending'
    check (status in ('sending', 'sent', 'failed', 'skipped')),
  message_count integer not null check (message_count >= 1),
  provider_id text check (char_length(provider_id) <= 200),
  error text check (char_length(error) <= 1000),
  created_at timestamptz not null default now(),
  finished_at timestamptz
);

create index notification_batches_recipient_id_idx
  on public.notification_batches (recipient_id, id);
create index notification_batches_created_at_idx on public.notification_batches (created_at);

create table public.message_notifications (
  id bigint generated always as identity primary key,
  recipient_id text not null check (char_length(recipient_id) between 1 and 128),
  message_id bigint not null references public.messages (id) on delete cascade,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  status text not null default 'pending'
    check (status in ('pending', 'batched', 'read', 'dropped')),
  batch_id bigint references public.notification_batches (id) on delete set null,
  attempts integer not null default 0 check (attempts >= 0),
  retry_at timestamptz,
  created_at timestamptz not null default now(),
  constraint message_notifications_recipient_id_message_id_key unique (recipient_id, message_id)
);

create index message_notifications_pending_idx
  on public.message_notifications (recipient_id, created_at) where status = 'pending';
create index message_notifications_batch_id_idx on public.message_notifications (batch_id);
create index message_notifications_created_at_idx on public.message_notifications (created_at);

alter table public.notification_contacts enable row level security;
alter table public.notification_batches enable row level security;
alter table public.message_notifications enable row level security;

create policy "notification_contacts: users read their own"
  on public.notification_contacts for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.notification_contacts, public.notification_batches,
  public.message_notifications from anon, authenticated;
grant select on public.notification_contacts to authenticated;
grant select, insert, update, delete on public.notification_contacts,
  public.notification_batches, public.message_notifications to service_role;

-- Claim up to p_limit recipients whose pending items are older than p_delay_seconds (the
-- recipient may still read them in the app). Items already read are marked `read` first.
-- Returns [{"batch", "recipient", "channel", "address", "status", "messageCount",
--           "conversationCount", "messages": [newest first, at most 20]}]; a recipient with no
-- usable contact comes back already `skipped`.
create or replace function public.messaging_notify_claim(
  p_limit integer, p_delay_seconds double precision
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_due timestamptz;
  v_recipients text[];
  v_recipient text;
  v_items bigint[];
  v_contact public.notification_contacts;
  v_channel text;
  v_address text;
  v_status text;
  v_batch bigint;
  v_claimed jsonb := '[]'::jsonb;
begin
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'claim limit must be between 1 and 1000' using errcode = '22023';
  end if;
  if p_delay_seconds is null or p_delay_seconds < 0 then
    raise exception 'delay must be 0 or more seconds' using errcode = '22023';
  end if;
  v_due := now() - make_interval(secs => p_delay_seconds);

  update public.message_notifications n
  set status = 'read'
  from public.conversation_participants p
  where n.status = 'pending'
    and p.conversation_id = n.conversation_id
    and p.user_id = n.recipient_id
    and p.last_read_message_id >= n.message_id;

  select coalesce(array_agg(d.recipient_id), '{}') into v_recipients
  from (
    select r.recipient_id
    from (
      select n.recipient_id, min(n.created_at) as first_at
      from public.message_notifications n
      where n.status = 'pending'
        and n.created_at <= v_due
        and (n.retry_at is null or n.retry_at <= now())
      group by n.recipient_id
      order by first_at
      limit p_limit * 2
    ) r
    where pg_try_advisory_xact_lock(hashtextextended('notify:' || r.recipient_id, 0))
    limit p_limit
  ) d;

  foreach v_recipient in array v_recipients loop
    -- a new statement, a new snapshot: items a concurrent claim batched are gone by now
    select coalesce(array_agg(n.id order by n.id), '{}') into v_items
    from public.message_notifications n
    where n.recipient_id = v_recipient
      and n.status = 'pending'
      and n.created_at <= v_due
      and (n.retry_at is null or n.retry_at <= now());
    continue when cardinality(v_items) = 0;

    select * into v_contact from public.notification_contacts c where c.user_id = v_recipient;
    v_channel := coalesce(v_contact.channel, 'none');
    v_address := case v_channel when 'sms' then v_contact.phone when 'email' then v_contact.email end;
    if v_address is null then
      v_channel := 'none';
    end if;
    v_status := case when v_channel = 'none' then 'skipped' else 'sending' end;

    insert into public.notification_batches
      (recipient_id, channel, address, status, message_count, finished_at)
    values (
      v_recipient, v_channel, v_address, v_status, cardinality(v_items),
      case when v_status = 'skipped' then now() end
    )
    returning id into v_batch;
    update public.message_notifications
    set status = 'batched', batch_id = v_batch
    where id = any(v_items);

    v_claimed := v_claimed || jsonb_build_array(jsonb_build_object(
      'batch', v_batch,
      'recipient', v_recipient,
      'channel', v_channel,
      'address', v_address,
      'status', v_status,
      'messageCount', cardinality(v_items),
      'conversationCount', (
        select count(distinct n.conversation_id) from public.message_notifications n
        where n.id = any(v_items)
      ),
      'messages', (
        select coalesce(jsonb_agg(m.item order by m.id desc), '[]'::jsonb)
        from (
          select msg.id, jsonb_build_object(
            'id', msg.id,
            'conversationId', msg.conversation_id,
            'conversationTitle', c.title,
            'senderId', msg.sender_id,
            'senderName', pr.display_name,
            'body', left(msg.body, 200),
            'createdAt', msg.created_at
          ) as item
          from public.message_notifications n
          join public.messages msg on msg.id = n.message_id
          join public.conversations c on c.id = msg.conversation_id
          left join public.profiles pr on pr.id = msg.sender_id
          where n.id = any(v_items)
          order by msg.id desc
          limit 20
        ) m
      )
    ));
  end loop;
  return v_claimed;
end
$$;

-- The outcome of one claimed batch (only a batch still `sending` changes):
--   sent       provider_id recorded
--   retry      definitely not sent, transient: items pending again after p_retry_seconds
--              (dropped once they reach p_max_attempts)
--   failed     a permanent refusal or an unknown outcome: items dropped, never resent
create or replace function public.messaging_notify_finish(
  p_batch bigint,
  p_outcome text,
  p_provider_id text,
  p_error text,
  p_retry_seconds double precision,
  p_max_attempts integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_batch public.notification_batches;
begin
  if p_outcome is null or p_outcome not in ('sent', 'retry', 'failed') then
    raise exception 'outcome is sent, retry or failed' using errcode = '22023';
  end if;
  if p_retry_seconds is null or p_retry_seconds < 0 or p_max_attempts is null
     or p_max_attempts < 1 then
    raise exception 'invalid retry policy' using errcode = '22023';
  end if;
  update public.notification_batches b
  set status = case p_outcome when 'sent' then 'sent' else 'failed' end,
      provider_id = left(p_provider_id, 200),
      error = left(p_error, 1000),
      finished_at = now()
  where b.id = p_batch and b.status = 'sending'
  returning * into v_batch;
  if not found then
    return jsonb_build_object('batch', p_batch, 'changed', false);
  end if;
  if p_outcome = 'retry' then
    update public.message_notifications n
    set attempts = n.attempts + 1,
        status = case when n.attempts + 1 >= p_max_attempts then 'dropped' else 'pending' end,
        retry_at = now() + make_interval(secs => p_retry_seconds)
    where n.batch_id = p_batch and n.status = 'batched';
  elsif p_outcome = 'failed' then
    update public.message_notifications n
    set attempts = n.attempts + 1, status = 'dropped'
    where n.batch_id = p_batch and n.status = 'batched';
  end if;
  return jsonb_build_object('batch', p_batch, 'changed', true, 'status', v_batch.status);
end
$$;

-- Finished batches and items older than p_retention_days (and their items); returns rows deleted.
create or replace function public.messaging_notify_cleanup(p_retention_days integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_items integer;
  v_batches integer;
begin
  if p_retention_days is null or p_retention_days < 1 then
    raise exception 'retention must be at least 1 day' using errcode = '22023';
  end if;
  delete from public.message_notifications n
  where n.status <> 'pending'
    and n.created_at < now() - make_interval(days => p_retention_days);
  get diagnostics v_items = row_count;
  delete from public.notification_batches b
  where b.created_at < now() - make_interval(days => p_retention_days)
    and not exists (select 1 from public.message_notifications n where n.batch_id = b.id);
  get diagnostics v_batches = row_count;
  return v_items + v_batches;
end
$$;

revoke execute on function public.messaging_notify_claim(integer, double precision)
  from public, anon, authenticated;
revoke execute on function public.messaging_notify_finish(
  bigint, text, text, text, double precision, integer
) from public, anon, authenticated;
revoke execute on function public.messaging_notify_cleanup(integer)
  from public, anon, authenticated;

grant execute on function public.messaging_notify_claim(integer, double precision)
  to service_role;
grant execute on function public.messaging_notify_finish(
  bigint, text, text, text, double precision, integer
) to service_role;
grant execute on function public.messaging_notify_cleanup(integer) to service_role;
