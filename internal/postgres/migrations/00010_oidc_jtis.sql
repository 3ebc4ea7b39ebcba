-- +goose Up
-- Trusted publishing: the ids (jti) of CI ID tokens already used, kept until
-- the token expires, so a token is used once on every replica. The primary
-- key makes the insert that records a use the one that settles a race.
CREATE TABLE oidc_used_jtis (
    issuer     text      NOT NULL,
    jti        text      NOT NULL,
    expires_at bigint  NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_used_jtis_expires ON oidc_used_jtis (expires_at);

-- +goose Down
DROP TABLE oidc_used_jtis;
