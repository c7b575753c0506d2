-- Planning poker, the commands: each is one function = one transaction that checks, changes
-- state and queues its realtime event on `presence-poker-{session}` with
-- public.outbox_enqueue(), returning `events` = public.outbox_rows(ids) for the caller to
-- publish (lib.realtime.outbox.commit_events). Service role only.
--
--   poker_create(user, name, deck_type, deck, tasks)  free with an active subscription, else
--                                                     one credit (private.credit_spend) in
--                                                     this transaction; no event
--   poker_join(user, session)          member-joined   (idempotent: a member joins once)
--   poker_leave(user, session)         member-left     (withdraws their vote on the open task)
--   poker_add_task(user, session, title)  task-added  (any member)
--   poker_start_task(user, task)       task-started    (facilitator; pending or revealed task:
--                                                     a re-vote clears the votes)
--   poker_vote(user, task, value)      vote            (member; a card of the deck; changing
--                                                     it is allowed until the reveal; the
--                                                     event names the voter, never the card)
--   poker_reveal(user, task)           votes-revealed  (facilitator; every card + statistics)
--   poker_finalize(user, task, estimate) task-finalized (facilitator; after the reveal)
--   poker_end(user, session)           session-ended   (facilitator)
--
-- Errors carry PostgREST's PTxxx codes, which lib.db.map_error turns into tRPC codes:
-- PT400 BAD_REQUEST (a value the deck does not have), PT402 PAYMENT_REQUIRED (no credits),
-- PT403 FORBIDDEN (not a member; not the facilitator), PT404 NOT_FOUND, PT412
-- PRECONDITION_FAILED (the session has ended; the task is in the wrong state).
-- Order: the session row is locked first (one command per session at a time), then the task.

create or replace function private.poker_channel(p_session_id uuid)
returns text
language sql
immutable
set search_path = ''
as $$
  select 'presence-poker-' || p_session_id::text
$$;

-- The session, locked until commit; NOT_FOUND if there is none, PRECONDITION_FAILED if ended.
create or replace function private.poker_lock_session(p_session_id uuid)
returns public.poker_sessions
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_session public.poker_sessions;
begin
  select * into v_session
  from public.poker_sessions s
  where s.id = p_session_id
  for no key update;
  if not found then
    raise exception 'no poker session %', p_session_id using errcode = 'PT404';
  end if;
  if v_session.status = 'ended' then
    raise exception 'session % has ended: it takes no more commands', p_session_id
      using errcode = 'PT412';
  end if;
  return v_session;
end
$$;

-- The task, locked after its session (which must exist and be open); NOT_FOUND if none.
create or replace function private.poker_lock_task(p_task_id uuid)
returns public.poker_tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_session_id uuid;
  v_task public.poker_tasks;
begin
  select t.session_id into v_session_id from public.poker_tasks t where t.id = p_task_id;
  if not found then
    raise exception 'no poker task %', p_task_id using errcode = 'PT404';
  end if;
  perform private.poker_lock_session(v_session_id);
  select * into v_task from public.poker_tasks t where t.id = p_task_id for update;
  return v_task;
end
$$;

create or replace function private.poker_require_member(p_session_id uuid, p_user text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if not private.is_poker_member(p_session_id, p_user) then
    raise exception 'you are not a member of session %: join it first', p_session_id
      using errcode = 'PT403';
  end if;
end
$$;

create or replace function private.poker_require_facilitator(
  p_session_id uuid,
  p_user text,
  p_action text
)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if not exists (
    select 1 from public.poker_sessions s
    where s.id = p_session_id and s.facilitator_id = p_user
  ) then
    raise exception 'only the facilitator can %', p_action using errcode = 'PT403';
  end if;
end
$$;

create or replace function private.poker_result(p_result jsonb, p_event bigint)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select p_result || jsonb_build_object(
    'events',
    case when p_event is null then '[]'::jsonb else public.outbox_rows(array[p_event]) end
  )
$$;

create or replace function public.poker_create(
  p_user text,
  p_name text,
  p_deck_type text,
  p_deck text[],
  p_tasks text[]
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
  v_left bigint;
  v_paid text := 'subscription';
begin
  if p_name is null or char_length(btrim(p_name)) not between 1 and 200 then
    raise exception 'a session name is 1 to 200 characters' using errcode = 'PT400';
  end if;
  if p_deck_type is null or p_deck_type not in ('fibonacci', 't-shirt', 'custom') then
    raise exception 'the deck is fibonacci, t-shirt or custom' using errcode = 'PT400';
  end if;
  if p_deck is null or cardinality(p_deck) not between 2 and 30 then
    raise exception 'a deck has 2 to 30 cards' using errcode = 'PT400';
  end if;
  if exists (select 1 from unnest(p_deck) c where c is null or char_length(c) not between 1 and 16)
  then
    raise exception 'a card is 1 to 16 characters' using errcode = 'PT400';
  end if;
  if (select count(distinct c) from unnest(p_deck) c) <> cardinality(p_deck) then
    raise exception 'the cards of a deck are all different' using errcode = 'PT400';
  end if;
  if cardinality(coalesce(p_tasks, '{}')) > 50 then
    raise exception 'a new session takes at most 50 tasks' using errcode = 'PT400';
  end if;
  if exists (
    select 1 from unnest(p_tasks) t where t is null or char_length(btrim(t)) not between 1 and 500
  ) then
    raise exception 'a task title is 1 to 500 characters' using errcode = 'PT400';
  end if;

  if not private.has_active_subscription(p_user) then
    v_left := private.credit_spend(p_user, 'poker-session', v_id::text);
    v_paid := 'credit';
  end if;

  insert into public.poker_sessions (id, name, facilitator_id, deck_type, deck)
  values (v_id, btrim(p_name), p_user, p_deck_type, p_deck);
  insert into public.poker_members (session_id, user_id) values (v_id, p_user);
  insert into public.poker_tasks (session_id, position, title)
  select v_id, t.ord, btrim(t.title)
  from unnest(p_tasks) with ordinality as t(title, ord);

  return jsonb_build_object(
    'session', private.poker_view(v_id, p_user),
    'paidWith', v_paid,
    'creditsLeft', v_left,
    'events', '[]'::jsonb
  );
end
$$;

create or replace function public.poker_join(p_user text, p_session_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_member public.poker_members;
  v_count integer;
  v_event bigint;
begin
  perform private.poker_lock_session(p_session_id);
  if private.is_poker_member(p_session_id, p_user) then
    return private.poker_result(
      jsonb_build_object('joined', false, 'session', private.poker_view(p_session_id, p_user)),
      null
    );
  end if;
  select count(*) into v_count from public.poker_members m where m.session_id = p_session_id;
  if v_count >= 100 then
    raise exception 'session % is full: 100 members at most (a presence channel''s limit)',
      p_session_id using errcode = 'PT412';
  end if;
  insert into public.poker_members (session_id, user_id)
  values (p_session_id, p_user)
  returning * into v_member;
  v_event := public.outbox_enqueue(
    private.poker_channel(p_session_id),
    'member-joined',
    jsonb_build_object(
      'sessionId', p_session_id,
      'member', private.poker_member_json(v_member),
      'members', v_count + 1
    )
  );
  return private.poker_result(
    jsonb_build_object('joined', true, 'session', private.poker_view(p_session_id, p_user)),
    v_event
  );
end
$$;

create or replace function public.poker_leave(p_user text, p_session_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_session public.poker_sessions;
  v_withdrawn integer;
  v_count integer;
  v_event bigint;
begin
  v_session := private.poker_lock_session(p_session_id);
  if v_session.facilitator_id = p_user then
    raise exception 'the facilitator cannot leave the session: end it instead'
      using errcode = 'PT412';
  end if;
  delete from public.poker_members m where m.session_id = p_session_id and m.user_id = p_user;
  if not found then
    return private.poker_result(
      jsonb_build_object('sessionId', p_session_id, 'left', false), null
    );
  end if;
  delete from public.poker_votes v
  using public.poker_tasks t
  where v.task_id = t.id
    and t.session_id = p_session_id
    and t.status = 'voting'
    and v.user_id = p_user;
  get diagnostics v_withdrawn = row_count;
  select count(*) into v_count from public.poker_members m where m.session_id = p_session_id;
  v_event := public.outbox_enqueue(
    private.poker_channel(p_session_id),
    'member-left',
    jsonb_build_object(
      'sessionId', p_session_id,
      'userId', p_user,
      'members', v_count,
      'withdrewVote', v_withdrawn > 0
    )
  );
  return private.poker_result(
    jsonb_build_object('sessionId', p_session_id, 'left', true), v_event
  );
end
$$;

create or replace function public.poker_add_task(p_user text, p_session_id uuid, p_title text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_task public.poker_tasks;
  v_count integer;
  v_event bigint;
begin
  perform private.poker_lock_session(p_session_id);
  perform private.poker_require_member(p_session_id, p_user);
  if p_title is null or char_length(btrim(p_title)) not between 1 and 500 then
    raise exception 'a task title is 1 to 500 characters' using errcode = 'PT400';
  end if;
  select count(*) into v_count from public.poker_tasks t where t.session_id = p_session_id;
  if v_count >= 200 then
    raise exception 'session % already has 200 tasks, the most it holds', p_session_id
      using errcode = 'PT412';
  end if;
  insert into public.poker_tasks (session_id, position, title)
  values (
    p_session_id,
    coalesce(
      (select max(t.position) from public.poker_tasks t where t.session_id = p_session_id), 0
    ) + 1,
    btrim(p_title)
  )
  returning * into v_task;
  v_event := public.outbox_enqueue(
    private.poker_channel(p_session_id),
    'task-added',
    jsonb_build_object(
      'sessionId', p_session_id,
      'task', jsonb_build_object(
        'id', v_task.id, 'position', v_task.position, 'title', v_task.title,
        'status', v_task.status
      )
    )
  );
  return private.poker_result(
    jsonb_build_object('task', private.poker_task_json(v_task, p_user)), v_event
  );
end
$$;

create or replace function public.poker_start_task(p_user text, p_task_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_task public.poker_tasks;
  v_event bigint;
begin
  v_task := private.poker_lock_task(p_task_id);
  perform private.poker_require_facilitator(v_task.session_id, p_user, 'start a task');
  if v_task.status = 'voting' then
    raise exception 'voting on task % is already open', p_task_id using errcode = 'PT412';
  end if;
  if v_task.status = 'finalized' then
    raise exception 'task % is finalized (estimate %); add a new task to estimate it again',
      p_task_id, v_task.estimate using errcode = 'PT412';
  end if;
  if exists (
    select 1 from public.poker_tasks t
    where t.session_id = v_task.session_id and t.status = 'voting'
  ) then
    raise exception 'another task of this session is being voted on: reveal it first'
      using errcode = 'PT412';
  end if;
  delete from public.poker_votes v where v.task_id = p_task_id;
  update public.poker_tasks t
  set status = 'voting', round = t.round + 1, started_at = now(), revealed_at = null
  where t.id = p_task_id
  returning * into v_task;
  v_event := public.outbox_enqueue(
    private.poker_channel(v_task.session_id),
    'task-started',
    jsonb_build_object(
      'sessionId', v_task.session_id,
      'task', jsonb_build_object(
        'id', v_task.id, 'position', v_task.position, 'title', v_task.title,
        'status', v_task.status, 'round', v_task.round
      )
    )
  );
  return private.poker_result(
    jsonb_build_object('task', private.poker_task_json(v_task, p_user)), v_event
  );
end
$$;

create or replace function public.poker_vote(p_user text, p_task_id uuid, p_value text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_task public.poker_tasks;
  v_deck text[];
  v_previous text;
  v_count integer;
  v_event bigint;
begin
  v_task := private.poker_lock_task(p_task_id);
  perform private.poker_require_member(v_task.session_id, p_user);
  if v_task.status = 'pending' then
    raise exception 'voting on task % has not started', p_task_id using errcode = 'PT412';
  end if;
  if v_task.status <> 'voting' then
    raise exception 'the votes on task % are revealed: voting is closed', p_task_id
      using errcode = 'PT412';
  end if;
  select s.deck into v_deck from public.poker_sessions s where s.id = v_task.session_id;
  if p_value is null or array_position(v_deck, p_value) is null then
    raise exception '% is not a card of this session''s deck (%)',
      coalesce(quote_literal(left(p_value, 20)), 'null'), array_to_string(v_deck, ', ')
      using errcode = 'PT400';
  end if;
  select v.value into v_previous
  from public.poker_votes v
  where v.task_id = p_task_id and v.user_id = p_user;
  if v_previous = p_value then
    select count(*) into v_count from public.poker_votes v where v.task_id = p_task_id;
    return private.poker_result(
      jsonb_build_object('taskId', p_task_id, 'status', 'unchanged', 'votes', v_count), null
    );
  end if;
  insert into public.poker_votes (task_id, user_id, value)
  values (p_task_id, p_user, p_value)
  on conflict (task_id, user_id) do update set value = excluded.value, voted_at = now();
  select count(*) into v_count from public.poker_votes v where v.task_id = p_task_id;
  v_event := public.outbox_enqueue(
    private.poker_channel(v_task.session_id),
    'vote',
    jsonb_build_object(
      'sessionId', v_task.session_id,
      'taskId', p_task_id,
      'round', v_task.round,
      'userId', p_user,
      'changed', v_previous is not null,
      'votes', v_count
    )
  );
  return private.poker_result(
    jsonb_build_object(
      'taskId', p_task_id,
      'status', case when v_previous is null then 'new' else 'changed' end,
      'votes', v_count
    ),
    v_event
  );
end
$$;

create or replace function public.poker_reveal(p_user text, p_task_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_task public.poker_tasks;
  v_event bigint;
begin
  v_task := private.poker_lock_task(p_task_id);
  perform private.poker_require_facilitator(v_task.session_id, p_user, 'reveal the votes');
  if v_task.status = 'pending' then
    raise exception 'voting on task % has not started', p_task_id using errcode = 'PT412';
  end if;
  if v_task.status <> 'voting' then
    raise exception 'the votes on task % are already revealed', p_task_id
      using errcode = 'PT412';
  end if;
  update public.poker_tasks t
  set status = 'revealed', revealed_at = now()
  where t.id = p_task_id
  returning * into v_task;
  v_event := public.outbox_enqueue(
    private.poker_channel(v_task.session_id),
    'votes-revealed',
    jsonb_build_object(
      'sessionId', v_task.session_id,
      'taskId', p_task_id,
      'round', v_task.round,
      'votes', coalesce(
        (
          select jsonb_agg(
            jsonb_build_object('userId', v.user_id, 'value', v.value)
            order by v.voted_at, v.user_id
          )
          from public.poker_votes v
          where v.task_id = p_task_id
        ),
        '[]'::jsonb
      ),
      'stats', private.poker_vote_stats(p_task_id)
    )
  );
  return private.poker_result(
    jsonb_build_object('task', private.poker_task_json(v_task, p_user)), v_event
  );
end
$$;

create or replace function public.poker_finalize(p_user text, p_task_id uuid, p_estimate text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_task public.poker_tasks;
  v_event bigint;
begin
  v_task := private.poker_lock_task(p_task_id);
  perform private.poker_require_facilitator(v_task.session_id, p_user, 'finalize an estimate');
  if p_estimate is null or char_length(btrim(p_estimate)) not between 1 and 16 then
    raise exception 'an estimate is 1 to 16 characters' using errcode = 'PT400';
  end if;
  if v_task.status = 'finalized' then
    raise exception 'task % is already finalized (estimate %)', p_task_id, v_task.estimate
      using errcode = 'PT412';
  end if;
  if v_task.status <> 'revealed' then
    raise exception 'reveal the votes on task % before finalizing it', p_task_id
      using errcode = 'PT412';
  end if;
  update public.poker_tasks t
  set status = 'finalized', estimate = btrim(p_estimate), finalized_at = now()
  where t.id = p_task_id
  returning * into v_task;
  v_event := public.outbox_enqueue(
    private.poker_channel(v_task.session_id),
    'task-finalized',
    jsonb_build_object(
      'sessionId', v_task.session_id, 'taskId', p_task_id, 'estimate', v_task.estimate
    )
  );
  return private.poker_result(
    jsonb_build_object('task', private.poker_task_json(v_task, p_user)), v_event
  );
end
$$;

create or replace function public.poker_end(p_user text, p_session_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_session public.poker_sessions;
  v_event bigint;
begin
  perform private.poker_lock_session(p_session_id);
  perform private.poker_require_facilitator(p_session_id, p_user, 'end the session');
  update public.poker_sessions s
  set status = 'ended', ended_at = now()
  where s.id = p_session_id
  returning * into v_session;
  v_event := public.outbox_enqueue(
    private.poker_channel(p_session_id),
    'session-ended',
    jsonb_build_object(
      'sessionId', p_session_id,
      'endedAt', v_session.ended_at,
      'tasks', (select count(*) from public.poker_tasks t where t.session_id = p_session_id),
      'finalized', (
        select count(*) from public.poker_tasks t
        where t.session_id = p_session_id and t.status = 'finalized'
      )
    )
  );
  return private.poker_result(
    jsonb_build_object(
      'sessionId', p_session_id, 'status', v_session.status, 'endedAt', v_session.ended_at
    ),
    v_event
  );
end
$$;

revoke execute on function private.poker_channel(uuid) from public, anon, authenticated;
revoke execute on function private.poker_lock_session(uuid) from public, anon, authenticated;
revoke execute on function private.poker_lock_task(uuid) from public, anon, authenticated;
revoke execute on function private.poker_require_member(uuid, text)
  from public, anon, authenticated;
revoke execute on function private.poker_require_facilitator(uuid, text, text)
  from public, anon, authenticated;
revoke execute on function private.poker_result(jsonb, bigint) from public, anon, authenticated;
revoke execute on function public.poker_create(text, text, text, text[], text[])
  from public, anon, authenticated;
revoke execute on function public.poker_join(text, uuid) from public, anon, authenticated;
revoke execute on function public.poker_leave(text, uuid) from public, anon, authenticated;
revoke execute on function public.poker_add_task(text, uuid, text)
  from public, anon, authenticated;
revoke execute on function public.poker_start_task(text, uuid) from public, anon, authenticated;
revoke execute on function public.poker_vote(text, uuid, text) from public, anon, authenticated;
revoke execute on function public.poker_reveal(text, uuid) from public, anon, authenticated;
revoke execute on function public.poker_finalize(text, uuid, text)
  from public, anon, authenticated;
revoke execute on function public.poker_end(text, uuid) from public, anon, authenticated;

grant execute on function public.poker_create(text, text, text, text[], text[]) to service_role;
grant execute on function public.poker_join(text, uuid) to service_role;
grant execute on function public.poker_leave(text, uuid) to service_role;
grant execute on function public.poker_add_task(text, uuid, text) to service_role;
grant execute on function public.poker_start_task(text, uuid) to service_role;
grant execute on function public.poker_vote(text, uuid, text) to service_role;
grant execute on function public.poker_reveal(text, uuid) to service_role;
grant execute on function public.poker_finalize(text, uuid, text) to service_role;
grant execute on function public.poker_end(text, uuid) to service_role;
