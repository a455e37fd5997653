-- The service's PostgreSQL roles, for a server that several hosts reach (docs/deploy.md "Roles").
-- Run once, in the service's database, as a superuser or a role with CREATEROLE that owns the database:
--   psql -v ON_ERROR_STOP=1 -d zipar -f roles.sql
-- then give each login role its password (\password zipar_worker, ...). Re-running it is harmless.
--
--   zipar_owner   owns the schema: `zipar-admin migrate` (zipar-migrate.service) creates and alters tables.
--   zipar_worker  zipar-worker: reads, claims and updates jobs, writes results and its heartbeat. No DELETE,
--                 no DDL: a stolen worker credential cannot drop or purge anything.
--   zipar_admin   zipar-admin (serve, export, purge, queues, cancel, retry) and zipar-submit: reads and
--                 writes every table, deletes (purge, queue deletion); no DDL.
-- The grants to worker and admin are default privileges of zipar_owner, so the tables a later migration
-- creates get them too.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zipar_owner') THEN CREATE ROLE zipar_owner LOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zipar_worker') THEN CREATE ROLE zipar_worker LOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zipar_admin') THEN CREATE ROLE zipar_admin LOGIN; END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO zipar_owner, zipar_worker, zipar_admin', current_database());
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO zipar_owner;
GRANT USAGE ON SCHEMA public TO zipar_worker, zipar_admin;

ALTER DEFAULT PRIVILEGES FOR ROLE zipar_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO zipar_worker;
ALTER DEFAULT PRIVILEGES FOR ROLE zipar_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO zipar_admin;
ALTER DEFAULT PRIVILEGES FOR ROLE zipar_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO zipar_worker, zipar_admin;

-- Tables that already exist (roles added to a database migrated before): the same grants.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO zipar_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO zipar_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO zipar_worker, zipar_admin;
