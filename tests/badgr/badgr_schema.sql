-- The tables and columns of a Badgr server (concentricsky/badgr-server, last release) that
-- `laurels import-badgr` reads, as PostgreSQL DDL. Written from Badgr's models:
--   badgeuser.BadgeUser            -> users            (Meta.db_table = 'users')
--   badgeuser.CachedEmailAddress   -> account_emailaddress (a proxy of allauth's EmailAddress)
--   issuer.Issuer / IssuerStaff / IssuerExtension
--   issuer.BadgeClass / BadgeClassTag / BadgeClassAlignment / BadgeClassExtension
--   issuer.BadgeInstance / BadgeInstanceEvidence / BadgeInstanceExtension
--   backpack.BackpackCollection / BackpackCollectionBadgeInstance
--   oauth2_provider.Application (django-oauth-toolkit) / mainsite.ApplicationInfo
-- Columns the import does not read are left out, except those that keep rows recognisable
-- (entity_version, slug, source). Types follow Django's PostgreSQL backend.

CREATE TABLE users (
    id serial PRIMARY KEY,
    password varchar(128) NOT NULL,
    last_login timestamp with time zone NULL,
    is_superuser boolean NOT NULL,
    username varchar(150) NOT NULL UNIQUE,
    first_name varchar(150) NOT NULL,
    last_name varchar(150) NOT NULL,
    email varchar(254) NOT NULL,
    is_staff boolean NOT NULL,
    is_active boolean NOT NULL,
    date_joined timestamp with time zone NOT NULL,
    entity_id varchar(254) NULL UNIQUE,
    entity_version integer NOT NULL DEFAULT 1,
    badgrapp_id integer NULL,
    marketing_opt_in boolean NOT NULL DEFAULT false
);

CREATE TABLE account_emailaddress (
    id serial PRIMARY KEY,
    email varchar(254) NOT NULL UNIQUE,
    verified boolean NOT NULL,
    "primary" boolean NOT NULL,
    user_id integer NOT NULL REFERENCES users (id)
);

CREATE TABLE issuer_issuer (
    id serial PRIMARY KEY,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    entity_id varchar(254) NOT NULL UNIQUE,
    entity_version integer NOT NULL DEFAULT 1,
    slug varchar(255) NULL,
    name varchar(1024) NOT NULL,
    image varchar(100) NULL,
    description text NULL,
    url varchar(254) NULL,
    email varchar(254) NULL,
    old_json text NOT NULL DEFAULT '{}',
    source varchar(254) NOT NULL DEFAULT 'local',
    source_url varchar(254) NULL UNIQUE,
    original_json text NULL,
    badgrapp_id integer NULL,
    created_by_id integer NULL REFERENCES users (id),
    updated_by_id integer NULL REFERENCES users (id)
);

CREATE TABLE issuer_issuerstaff (
    id serial PRIMARY KEY,
    role varchar(254) NOT NULL,
    issuer_id integer NOT NULL REFERENCES issuer_issuer (id),
    user_id integer NOT NULL REFERENCES users (id),
    UNIQUE (issuer_id, user_id)
);

CREATE TABLE issuer_issuerextension (
    id serial PRIMARY KEY,
    name varchar(254) NOT NULL,
    original_json text NULL,
    issuer_id integer NOT NULL REFERENCES issuer_issuer (id)
);

CREATE TABLE issuer_badgeclass (
    id serial PRIMARY KEY,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    entity_id varchar(254) NOT NULL UNIQUE,
    entity_version integer NOT NULL DEFAULT 1,
    slug varchar(255) NULL,
    name varchar(255) NOT NULL,
    image varchar(100) NOT NULL,
    description text NULL,
    criteria_url varchar(254) NULL,
    criteria_text text NULL,
    expires_amount integer NULL,
    expires_duration varchar(254) NULL,
    old_json text NOT NULL DEFAULT '{}',
    source varchar(254) NOT NULL DEFAULT 'local',
    source_url varchar(254) NULL UNIQUE,
    original_json text NULL,
    issuer_id integer NOT NULL REFERENCES issuer_issuer (id),
    created_by_id integer NULL REFERENCES users (id),
    updated_by_id integer NULL REFERENCES users (id)
);

CREATE TABLE issuer_badgeclasstag (
    id serial PRIMARY KEY,
    name varchar(254) NOT NULL,
    badgeclass_id integer NOT NULL REFERENCES issuer_badgeclass (id)
);

CREATE TABLE issuer_badgeclassalignment (
    id serial PRIMARY KEY,
    target_name text NOT NULL,
    target_url varchar(2083) NOT NULL,
    target_description text NULL,
    target_framework text NULL,
    target_code text NULL,
    original_json text NULL,
    badgeclass_id integer NOT NULL REFERENCES issuer_badgeclass (id)
);

CREATE TABLE issuer_badgeclassextension (
    id serial PRIMARY KEY,
    name varchar(254) NOT NULL,
    original_json text NULL,
    badgeclass_id integer NOT NULL REFERENCES issuer_badgeclass (id)
);

CREATE TABLE issuer_badgeinstance (
    id serial PRIMARY KEY,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    entity_id varchar(254) NOT NULL UNIQUE,
    entity_version integer NOT NULL DEFAULT 1,
    slug varchar(255) NULL,
    issued_on timestamp with time zone NOT NULL,
    badgeclass_id integer NOT NULL REFERENCES issuer_badgeclass (id),
    issuer_id integer NOT NULL REFERENCES issuer_issuer (id),
    user_id integer NULL REFERENCES users (id),
    recipient_identifier varchar(768) NOT NULL,
    recipient_type varchar(255) NOT NULL,
    image varchar(100) NOT NULL DEFAULT '',
    revoked boolean NOT NULL,
    revocation_reason varchar(255) NULL,
    expires_at timestamp with time zone NULL,
    acceptance varchar(254) NOT NULL,
    hashed boolean NOT NULL,
    salt varchar(254) NULL,
    narrative text NULL,
    old_json text NOT NULL DEFAULT '{}',
    source varchar(254) NOT NULL DEFAULT 'local',
    source_url varchar(254) NULL UNIQUE,
    original_json text NULL,
    created_by_id integer NULL REFERENCES users (id),
    updated_by_id integer NULL REFERENCES users (id)
);

CREATE TABLE issuer_badgeinstanceevidence (
    id serial PRIMARY KEY,
    evidence_url varchar(2083) NULL,
    narrative text NULL,
    original_json text NULL,
    badgeinstance_id integer NOT NULL REFERENCES issuer_badgeinstance (id)
);

CREATE TABLE issuer_badgeinstanceextension (
    id serial PRIMARY KEY,
    name varchar(254) NOT NULL,
    original_json text NULL,
    badgeinstance_id integer NOT NULL REFERENCES issuer_badgeinstance (id)
);

CREATE TABLE backpack_backpackcollection (
    id serial PRIMARY KEY,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    entity_id varchar(254) NOT NULL UNIQUE,
    entity_version integer NOT NULL DEFAULT 1,
    name varchar(128) NOT NULL,
    description varchar(255) NOT NULL,
    share_hash varchar(255) NOT NULL,
    slug varchar(254) NULL,
    created_by_id integer NULL REFERENCES users (id),
    updated_by_id integer NULL REFERENCES users (id)
);

CREATE TABLE backpack_backpackcollectionbadgeinstance (
    id serial PRIMARY KEY,
    collection_id integer NOT NULL REFERENCES backpack_backpackcollection (id),
    badgeuser_id integer NULL REFERENCES users (id),
    badgeinstance_id integer NOT NULL REFERENCES issuer_badgeinstance (id)
);

CREATE TABLE oauth2_provider_application (
    id bigserial PRIMARY KEY,
    client_id varchar(100) NOT NULL UNIQUE,
    redirect_uris text NOT NULL,
    client_type varchar(32) NOT NULL,
    authorization_grant_type varchar(32) NOT NULL,
    client_secret varchar(255) NOT NULL,
    name varchar(255) NOT NULL,
    user_id integer NULL REFERENCES users (id),
    skip_authorization boolean NOT NULL,
    created timestamp with time zone NOT NULL,
    updated timestamp with time zone NOT NULL
);

CREATE TABLE mainsite_applicationinfo (
    id serial PRIMARY KEY,
    application_id bigint NOT NULL UNIQUE REFERENCES oauth2_provider_application (id),
    icon varchar(100) NULL,
    name varchar(254) NULL,
    website_url varchar(200) NULL,
    allowed_scopes text NOT NULL,
    trust_email_verification boolean NOT NULL,
    logo_uri varchar(200) NULL,
    terms_uri varchar(200) NULL,
    policy_uri varchar(200) NULL,
    software_id varchar(254) NULL,
    software_version varchar(254) NULL
);
