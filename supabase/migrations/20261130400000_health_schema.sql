-- Schema health: GET /api/health passes the public functions and tables the deployed code
-- calls (each feature's `schema` declaration) and gets back the ones missing and the newest
-- migration applied, so a dropped table, a renamed function or a migration not pushed is a
-- 503 naming it, not a 500 at the first request that needs it. Service role only.
-- security definer: service_role cannot read supabase_migrations or every catalog row.

create function public.health_schema(p_objects text[])
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_migration text;
begin
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select max(version) from supabase_migrations.schema_migrations' into v_migration;
  end if;
  return jsonb_build_object(
    'migration', v_migration,
    'missing', coalesce((
      select jsonb_agg(o.name order by o.name)
      from unnest(p_objects) as o (name)
      where to_regclass(pg_catalog.format('public.%I', o.name)) is null
        and not exists (
          select 1
          from pg_catalog.pg_proc p
          join pg_catalog.pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public' and p.proname = o.name
        )
    ), '[]'::jsonb)
  );
end
$$;

revoke execute on function public.health_schema(text[]) from public, anon, authenticated;
grant execute on function public.health_schema(text[]) to service_role;
