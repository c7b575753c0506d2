-- Profiles without SQL by hand: a new user gets a `profiles` row from their identity provider.
--
--   Clerk          POST /api/webhooks/clerk (Svix-signed, lib.core) -> webhook_ingest runs
--                  profiles_on_clerk_user (user.created / user.updated: upsert) or
--                  profiles_on_clerk_user_deleted (user.deleted: delete)
--   Supabase Auth  triggers on auth.users (the way Supabase documents it): insert -> profile,
--                  update of the metadata -> display name, delete -> profile gone
-- The display name is first + last name, else the username, else the email's local part.

create or replace function private.profile_display_name(
  p_first text, p_last text, p_username text, p_email text
)
returns text
language sql
immutable
set search_path = ''
as $$
  select left(coalesce(
    nullif(btrim(concat_ws(' ', nullif(btrim(p_first), ''), nullif(btrim(p_last), ''))), ''),
    nullif(btrim(p_username), ''),
    nullif(split_part(coalesce(p_email, ''), '@', 1), '')
  ), 200)
$$;

create or replace function public.profiles_on_clerk_user(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_user jsonb := p_event -> 'data';
  v_id text := v_user ->> 'id';
  v_email text;
  v_profile public.profiles;
begin
  if v_id is null or char_length(v_id) not between 1 and 128 then
    raise exception 'a Clerk user event needs data.id' using errcode = '22023';
  end if;
  select e ->> 'email_address' into v_email
    from jsonb_array_elements(coalesce(v_user -> 'email_addresses', '[]'::jsonb)) e
    where e ->> 'id' = v_user ->> 'primary_email_address_id';
  insert into public.profiles as p (id, display_name, avatar_url)
    values (
      v_id,
      private.profile_display_name(
        v_user ->> 'first_name', v_user ->> 'last_name', v_user ->> 'username', v_email
      ),
      left(nullif(v_user ->> 'image_url', ''), 2048)
    )
    on conflict (id) do update
      set display_name = excluded.display_name, avatar_url = excluded.avatar_url
    returning * into v_profile;
  return jsonb_build_object('profile', to_jsonb(v_profile));
end
$$;

create or replace function public.profiles_on_clerk_user_deleted(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.profiles where id = p_event -> 'data' ->> 'id';
  get diagnostics v_deleted = row_count;
  return jsonb_build_object('deleted', v_deleted);
end
$$;

revoke execute on function private.profile_display_name(text, text, text, text)
  from public, anon, authenticated;
revoke execute on function public.profiles_on_clerk_user(jsonb) from public, anon, authenticated;
revoke execute on function public.profiles_on_clerk_user_deleted(jsonb)
  from public, anon, authenticated;
grant execute on function public.profiles_on_clerk_user(jsonb) to service_role;
grant execute on function public.profiles_on_clerk_user_deleted(jsonb) to service_role;

-- Supabase Auth: auth.users rows (id uuid, email, raw_user_meta_data jsonb).
create or replace function private.profiles_from_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' then
    delete from public.profiles where id = old.id::text;
    return old;
  end if;
  insert into public.profiles as p (id, display_name, avatar_url)
    values (
      new.id::text,
      private.profile_display_name(
        coalesce(new.raw_user_meta_data ->> 'full_name', new.raw_user_meta_data ->> 'name'),
        null,
        new.raw_user_meta_data ->> 'user_name',
        new.email
      ),
      left(nullif(new.raw_user_meta_data ->> 'avatar_url', ''), 2048)
    )
    on conflict (id) do update
      set display_name = excluded.display_name,
          avatar_url = coalesce(excluded.avatar_url, p.avatar_url);
  return new;
end
$$;

revoke execute on function private.profiles_from_auth_user() from public, anon, authenticated;

create trigger profiles_from_auth_user_insert
  after insert on auth.users
  for each row execute function private.profiles_from_auth_user();

create trigger profiles_from_auth_user_update
  after update of email, raw_user_meta_data on auth.users
  for each row execute function private.profiles_from_auth_user();

create trigger profiles_from_auth_user_delete
  after delete on auth.users
  for each row execute function private.profiles_from_auth_user();
