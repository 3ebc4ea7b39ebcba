-- +goose Up
-- Trusted publishers: CI identities (an OIDC issuer, an audience, claim
-- conditions as a JSON object, package patterns as a JSON array) an owner
-- lets publish.
CREATE TABLE trusted_publishers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   bigint  NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    issuer     text      NOT NULL,
    audience   text      NOT NULL,
    claims     text      NOT NULL,
    packages   text      NOT NULL,
    created_at bigint  NOT NULL
);
CREATE INDEX trusted_publishers_issuer ON trusted_publishers (issuer);
CREATE INDEX trusted_publishers_owner ON trusted_publishers (owner_id);

-- Every use of an ID token: an exchange (hash and last_eight identify the
-- token minted for it) or a direct use (direct true, no token). The record
-- outlives its publisher (publisher_id becomes NULL, its tokens stop
-- working).
CREATE TABLE publisher_exchanges (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    publisher_id bigint  REFERENCES trusted_publishers (id) ON DELETE SET NULL,
    owner_id     bigint  NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    issuer       text      NOT NULL,
    subject      text      NOT NULL,
    repository   text      NOT NULL,
    workflow     text      NOT NULL,
    run_id       text      NOT NULL,
    sha          text      NOT NULL,
    ref          text      NOT NULL,
    direct       boolean NOT NULL DEFAULT false,
    hash         text      UNIQUE,
    last_eight   text,
    created_at   bigint  NOT NULL,
    expires_at   bigint  NOT NULL
);
CREATE INDEX publisher_exchanges_last_eight ON publisher_exchanges (last_eight);
CREATE INDEX publisher_exchanges_owner ON publisher_exchanges (owner_id, id);
CREATE INDEX publisher_exchanges_publisher ON publisher_exchanges (publisher_id);

-- The exchange whose token uploaded a file: the file's CI identity.
CREATE TABLE file_publications (
    file_id     bigint  PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    exchange_id bigint  NOT NULL REFERENCES publisher_exchanges (id) ON DELETE CASCADE
);
CREATE INDEX file_publications_exchange ON file_publications (exchange_id);

-- +goose Down
DROP TABLE file_publications;
DROP TABLE publisher_exchanges;
DROP TABLE trusted_publishers;
