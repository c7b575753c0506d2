-- CRM opportunities ("projects" in the app): HighLevel OpportunityCreate, StatusUpdate,
-- StageUpdate, MonetaryValueUpdate, AssignedToUpdate, Delete.
--
-- HighLevel sends a full snapshot and no previous values, so crm_on_opportunity diffs the
-- snapshot against the stored row (locked) to decide what changed:
--   status -> status_changed, pipelineStageId -> stage_changed, monetaryValue -> value_changed,
--   assignedTo -> assigned; a new row -> created; OpportunityDelete -> deleted.
-- The assignee gets one `project-update` per change {type, project{id, name, status, value,
-- stageId}, contact{name}, previous}; when the status becomes `won` the location gets
-- `project-won` {projectName, value, salesRep}. A snapshot that changes nothing publishes
-- nothing, so redeliveries and duplicate webhooks are silent.

create table public.crm_opportunities (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  name text not null default '' check (char_length(name) <= 400),
  status text not null default 'open' check (char_length(status) between 1 and 32),
  pipeline_id text check (char_length(pipeline_id) <= 128),
  stage_id text check (char_length(stage_id) <= 128),
  monetary_value numeric(14, 2) not null default 0,
  assigned_to text check (char_length(assigned_to) <= 128),
  source text check (char_length(source) <= 400),
  won_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_opportunities_location_id_idx
  on public.crm_opportunities (location_id, pipeline_id, stage_id);

alter table public.crm_opportunities enable row level security;

create policy "crm_opportunities: members read their locations' opportunities"
  on public.crm_opportunities for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_opportunities from anon, authenticated;
grant select on public.crm_opportunities to authenticated;
grant select, insert, update, delete on public.crm_opportunities to service_role;

create or replace function public.crm_on_opportunity(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_id text := left(nullif(v_data ->> 'id', ''), 128);
  v_old public.crm_opportunities;
  v_new public.crm_opportunities;
  v_contact public.crm_contacts;
  v_value numeric;
  v_changes jsonb := '[]'::jsonb;
  v_change jsonb;
  v_assignee text;
  v_items jsonb := '[]'::jsonb;
  v_project jsonb;
begin
  if v_id is null then
    raise exception 'an opportunity event needs an id' using errcode = '22023';
  end if;
  select * into v_old from public.crm_opportunities where id = v_id for update;
  v_contact := private.crm_contact(v_location, coalesce(v_data ->> 'contactId', v_old.contact_id));

  if p_event ->> 'type' = 'OpportunityDelete' then
    if v_old.id is null or v_old.deleted_at is not null then
      return jsonb_build_object('opportunity', v_id, 'changes', '[]'::jsonb)
        || private.crm_emit('[]'::jsonb);
    end if;
    update public.crm_opportunities set deleted_at = now(), updated_at = now()
      where id = v_id returning * into v_new;
    v_changes := jsonb_build_array(jsonb_build_object('type', 'deleted'));
  else
    begin
      v_value := (v_data ->> 'monetaryValue')::numeric(14, 2);
    exception when others then
      v_value := null;
    end;
    insert into public.crm_opportunities as o (
      id, location_id, contact_id, name, status, pipeline_id, stage_id, monetary_value,
      assigned_to, source
    ) values (
      v_id, v_location, v_contact.id,
      left(coalesce(v_data ->> 'name', ''), 400),
      left(lower(coalesce(nullif(v_data ->> 'status', ''), 'open')), 32),
      left(nullif(v_data ->> 'pipelineId', ''), 128),
      left(nullif(v_data ->> 'pipelineStageId', ''), 128),
      coalesce(v_value, 0),
      left(nullif(v_data ->> 'assignedTo', ''), 128),
      left(nullif(v_data ->> 'source', ''), 400)
    )
    on conflict (id) do update set
      contact_id = coalesce(excluded.contact_id, o.contact_id),
      name = case when v_data ? 'name' then excluded.name else o.name end,
      status = case when v_data ? 'status' then excluded.status else o.status end,
      pipeline_id = case when v_data ? 'pipelineId' then excluded.pipeline_id else o.pipeline_id end,
      stage_id = case when v_data ? 'pipelineStageId' then excluded.stage_id else o.stage_id end,
      monetary_value = case when v_value is not null then excluded.monetary_value
        else o.monetary_value end,
      assigned_to = case when v_data ? 'assignedTo' then excluded.assigned_to else o.assigned_to end,
      source = coalesce(excluded.source, o.source),
      deleted_at = null,
      updated_at = now()
    returning * into v_new;

    if v_old.id is null then
      v_changes := jsonb_build_array(jsonb_build_object('type', 'created'));
    else
      if v_new.status is distinct from v_old.status then
        v_changes := v_changes || jsonb_build_object('type', 'status_changed', 'previous', v_old.status);
      end if;
      if v_new.stage_id is distinct from v_old.stage_id then
        v_changes := v_changes || jsonb_build_object('type', 'stage_changed', 'previous', v_old.stage_id);
      end if;
      if v_new.monetary_value is distinct from v_old.monetary_value then
        v_changes := v_changes || jsonb_build_object('type', 'value_changed', 'previous', v_old.monetary_value);
      end if;
      if v_new.assigned_to is distinct from v_old.assigned_to then
        v_changes := v_changes || jsonb_build_object('type', 'assigned', 'previous', v_old.assigned_to);
      end if;
    end if;
    if v_new.status = 'won' and v_old.status is distinct from 'won' then
      update public.crm_opportunities set won_at = now() where id = v_id;
      v_items := private.crm_to_location(v_location, 'project-won', jsonb_build_object(
        'projectName', v_new.name,
        'value', v_new.monetary_value,
        'salesRep', coalesce(
          (select nullif(u.name, '') from public.crm_users u where u.id = v_new.assigned_to), ''
        )
      ));
    end if;
  end if;

  v_assignee := private.crm_assignee(v_new.assigned_to, v_new.contact_id);
  v_project := jsonb_build_object(
    'id', v_new.id, 'name', v_new.name, 'status', v_new.status,
    'value', v_new.monetary_value, 'stageId', v_new.stage_id
  );
  for v_change in select value from jsonb_array_elements(v_changes) loop
    v_items := v_items || private.crm_to_user(v_assignee, 'project-update', v_change || jsonb_build_object(
      'project', v_project,
      'contact', jsonb_build_object('name', coalesce(private.crm_contact_name(v_contact), ''))
    ));
  end loop;
  return jsonb_build_object(
    'opportunity', v_id,
    'changes', (select coalesce(jsonb_agg(c ->> 'type'), '[]'::jsonb) from jsonb_array_elements(v_changes) c)
  ) || private.crm_emit(v_items);
end
$$;

revoke execute on function public.crm_on_opportunity(jsonb) from public, anon, authenticated;
grant execute on function public.crm_on_opportunity(jsonb) to service_role;
