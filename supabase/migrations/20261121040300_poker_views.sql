-- Planning poker, the read side: the JSON shapes sessions, tasks and vote statistics leave
-- the database in (used by the reads below and by the commands' results and events), and
-- the two reads lib/features/poker serves through tRPC:
--
--   public.poker_get(user, session)          the session as `user` sees it: NOT_FOUND
--                                            (PT404) if there is none, FORBIDDEN (PT403) to
--                                            a non-member; others' vote values are null
--                                            until the task is revealed
--   public.poker_list(user, limit, before)   the sessions `user` is in, newest first
--
-- Vote statistics (private.poker_vote_stats): `votes` counts every card; `average` and
-- `median` are over numeric cards only (a card that reads as a number: '0', '13', '0.5'),
-- `numericVotes` says how many that is, and both are null when there are none ('?', '☕',
-- t-shirt sizes); `consensus` = at least one vote and every vote the same card;
-- `distribution` = each card played with its count, in deck order.
-- Service role only; the poker tables' RLS policies say what users read directly.

create or replace function private.poker_vote_stats(p_task_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  with votes as (
    select
      v.value,
      case when v.value ~ '^-?[0-9]{1,12}(\.[0-9]{1,3})?$' then v.value::numeric end as number
    from public.poker_votes v
    where v.task_id = p_task_id
  ),
  deck as (
    select s.deck
    from public.poker_tasks t
    join public.poker_sessions s on s.id = t.session_id
    where t.id = p_task_id
  ),
  distribution as (
    select v.value, count(*) as count, array_position((select d.deck from deck d), v.value) as pos
    from votes v
    group by v.value
  )
  select jsonb_build_object(
    'votes', (select count(*) from votes),
    'numericVotes', (select count(v.number) from votes v),
    'average', (select trim_scale(round(avg(v.number), 2)) from votes v),
    'median', (
      select trim_scale(round((percentile_cont(0.5) within group (order by v.number))::numeric, 2))
      from votes v
    ),
    'consensus', (select count(*) > 0 and count(distinct v.value) = 1 from votes v),
    'distribution', coalesce(
      (
        select jsonb_agg(
          jsonb_build_object('value', d.value, 'count', d.count) order by d.pos nulls last, d.value
        )
        from distribution d
      ),
      '[]'::jsonb
    )
  )
$$;

create or replace function private.poker_member_json(p_member public.poker_members)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'userId', p_member.user_id,
    'displayName', (select p.display_name from public.profiles p where p.id = p_member.user_id),
    'joinedAt', p_member.joined_at,
    'facilitator', exists (
      select 1 from public.poker_sessions s
      where s.id = p_member.session_id and s.facilitator_id = p_member.user_id
    )
  )
$$;

-- A task as `p_viewer` sees it: vote values are null for others until the task is revealed.
create or replace function private.poker_task_json(p_task public.poker_tasks, p_viewer text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_task.id,
    'position', p_task.position,
    'title', p_task.title,
    'status', p_task.status,
    'round', p_task.round,
    'estimate', p_task.estimate,
    'votes', coalesce(
      (
        select jsonb_agg(
          jsonb_build_object(
            'userId', v.user_id,
            'value', case
              when p_task.status in ('revealed', 'finalized') or v.user_id = p_viewer then v.value
            end
          )
          order by v.voted_at, v.user_id
        )
        from public.poker_votes v
        where v.task_id = p_task.id
      ),
      '[]'::jsonb
    ),
    'stats', case
      when p_task.status in ('revealed', 'finalized') then private.poker_vote_stats(p_task.id)
    end
  )
$$;

create or replace function private.poker_view(p_session_id uuid, p_viewer text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', s.id,
    'name', s.name,
    'facilitatorId', s.facilitator_id,
    'status', s.status,
    'deck', jsonb_build_object('type', s.deck_type, 'values', to_jsonb(s.deck)),
    'createdAt', s.created_at,
    'endedAt', s.ended_at,
    'members', coalesce(
      (
        select jsonb_agg(private.poker_member_json(m) order by m.joined_at, m.user_id)
        from public.poker_members m
        where m.session_id = s.id
      ),
      '[]'::jsonb
    ),
    'tasks', coalesce(
      (
        select jsonb_agg(private.poker_task_json(t, p_viewer) order by t.position)
        from public.poker_tasks t
        where t.session_id = s.id
      ),
      '[]'::jsonb
    ),
    'me', jsonb_build_object('userId', p_viewer, 'facilitator', s.facilitator_id = p_viewer)
  )
  from public.poker_sessions s
  where s.id = p_session_id
$$;

create or replace function public.poker_get(p_user text, p_session_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.poker_sessions s where s.id = p_session_id) then
    raise exception 'no poker session %', p_session_id using errcode = 'PT404';
  end if;
  if not private.is_poker_member(p_session_id, p_user) then
    raise exception 'you are not a member of session %: join it first', p_session_id
      using errcode = 'PT403';
  end if;
  return private.poker_view(p_session_id, p_user);
end
$$;

create or replace function public.poker_list(p_user text, p_limit integer, p_before timestamptz)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if p_limit is null or p_limit not between 1 and 101 then
    raise exception 'limit must be between 1 and 101' using errcode = 'PT400';
  end if;
  return (
    select coalesce(jsonb_agg(x.item order by x.created_at desc, x.id desc), '[]'::jsonb)
    from (
      select
        s.id,
        s.created_at,
        jsonb_build_object(
          'id', s.id,
          'name', s.name,
          'status', s.status,
          'facilitatorId', s.facilitator_id,
          'facilitator', s.facilitator_id = p_user,
          'members', (select count(*) from public.poker_members m where m.session_id = s.id),
          'tasks', (select count(*) from public.poker_tasks t where t.session_id = s.id),
          'createdAt', s.created_at,
          'endedAt', s.ended_at
        ) as item
      from public.poker_sessions s
      where (
          s.facilitator_id = p_user
          or exists (
            select 1 from public.poker_members m
            where m.session_id = s.id and m.user_id = p_user
          )
        )
        and (p_before is null or s.created_at < p_before)
      order by s.created_at desc, s.id desc
      limit p_limit
    ) x
  );
end
$$;

revoke execute on function private.poker_vote_stats(uuid) from public, anon, authenticated;
revoke execute on function private.poker_member_json(public.poker_members)
  from public, anon, authenticated;
revoke execute on function private.poker_task_json(public.poker_tasks, text)
  from public, anon, authenticated;
revoke execute on function private.poker_view(uuid, text) from public, anon, authenticated;
revoke execute on function public.poker_get(text, uuid) from public, anon, authenticated;
revoke execute on function public.poker_list(text, integer, timestamptz)
  from public, anon, authenticated;

grant execute on function public.poker_get(text, uuid) to service_role;
grant execute on function public.poker_list(text, integer, timestamptz) to service_role;
