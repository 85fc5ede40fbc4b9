-- The analyst-facing star schema. Filled by `instapro model` (sql/models), rebuilt as a whole
-- in one transaction, so readers see the previous or the new version, never a mix.
CREATE SCHEMA IF NOT EXISTS {{mart}};

CREATE TABLE {{mart}}.dim_event_type (
    event_type              text     PRIMARY KEY,
    description             text     NOT NULL,
    changes_availability    boolean  NOT NULL,
    is_proposal             boolean  NOT NULL
);
INSERT INTO {{mart}}.dim_event_type (event_type, description, changes_availability, is_proposal) VALUES
    ('created_account',          'The professional created an account.',                     false, false),
    ('became_able_to_propose',   'The professional became able to propose on leads.',        true,  false),
    ('became_unable_to_propose', 'The professional became unable to propose on leads.',      true,  false),
    ('proposed',                 'The professional proposed on a lead for a service.',       false, true);

CREATE TABLE {{mart}}.dim_date (
    date_key        integer  PRIMARY KEY,          -- YYYYMMDD
    date            date     NOT NULL UNIQUE,
    iso_year        integer  NOT NULL,
    iso_week        integer  NOT NULL,
    week_start      date     NOT NULL,             -- Monday of the ISO week
    month           integer  NOT NULL,
    month_start     date     NOT NULL,
    month_name      text     NOT NULL,
    quarter         integer  NOT NULL,
    year            integer  NOT NULL,
    iso_weekday     integer  NOT NULL,             -- 1 = Monday .. 7 = Sunday
    weekday_name    text     NOT NULL,
    is_weekend      boolean  NOT NULL
);

CREATE TABLE {{mart}}.dim_professional (
    professional_id             bigint     PRIMARY KEY,
    account_created_at          timestamp,          -- NULL when the log holds no created_account event
    first_event_at              timestamp  NOT NULL,
    last_event_at               timestamp  NOT NULL,
    is_currently_able           boolean    NOT NULL, -- state after the professional's latest availability event
    last_availability_change_at timestamp,
    proposals_count             integer    NOT NULL
);

CREATE TABLE {{mart}}.dim_service (
    service_id        integer    PRIMARY KEY,
    service_name_nl   text       NOT NULL,   -- as in the latest proposal for the service
    service_name_en   text       NOT NULL,
    names_seen        integer    NOT NULL,   -- distinct (nl, en) name pairs seen; > 1 means the name changed
    first_proposed_at timestamp  NOT NULL,
    last_proposed_at  timestamp  NOT NULL
);

CREATE TABLE {{mart}}.fct_event (
    event_id         bigint     PRIMARY KEY,
    event_type       text       NOT NULL REFERENCES {{mart}}.dim_event_type (event_type),
    professional_id  bigint     NOT NULL REFERENCES {{mart}}.dim_professional (professional_id),
    date_key         integer    NOT NULL REFERENCES {{mart}}.dim_date (date_key),
    created_at       timestamp  NOT NULL,
    event_date       date       NOT NULL
);
CREATE INDEX fct_event_professional_idx ON {{mart}}.fct_event (professional_id);
CREATE INDEX fct_event_date_idx ON {{mart}}.fct_event (date_key);
CREATE INDEX fct_event_event_type_idx ON {{mart}}.fct_event (event_type);
-- Serves the availability snapshot: a professional's availability events in event order.
CREATE INDEX fct_event_availability_idx ON {{mart}}.fct_event (professional_id, created_at, event_id)
    WHERE event_type IN ('became_able_to_propose', 'became_unable_to_propose');

CREATE TABLE {{mart}}.fct_proposal (
    event_id         bigint         PRIMARY KEY REFERENCES {{mart}}.fct_event (event_id),
    professional_id  bigint         NOT NULL REFERENCES {{mart}}.dim_professional (professional_id),
    service_id       integer        NOT NULL REFERENCES {{mart}}.dim_service (service_id),
    date_key         integer        NOT NULL REFERENCES {{mart}}.dim_date (date_key),
    created_at       timestamp      NOT NULL,
    lead_fee         numeric(10, 2) NOT NULL CHECK (lead_fee >= 0)
);
CREATE INDEX fct_proposal_professional_idx ON {{mart}}.fct_proposal (professional_id);
CREATE INDEX fct_proposal_service_idx ON {{mart}}.fct_proposal (service_id);
CREATE INDEX fct_proposal_date_idx ON {{mart}}.fct_proposal (date_key);

-- One row per period in which a professional's availability state held: [valid_from, valid_to).
-- valid_to is NULL for the current period. Before the first period the professional was not able,
-- so a became_unable event that changes nothing starts no period, and neither does a repeated
-- became_able. Events with equal timestamps resolve to the last by event_id.
CREATE TABLE {{mart}}.professional_availability_history (
    professional_id      bigint     NOT NULL REFERENCES {{mart}}.dim_professional (professional_id),
    valid_from           timestamp  NOT NULL,
    valid_to             timestamp  CHECK (valid_to > valid_from),
    is_able              boolean    NOT NULL,
    started_by_event_id  bigint     NOT NULL UNIQUE REFERENCES {{mart}}.fct_event (event_id),
    is_current           boolean    NOT NULL,
    PRIMARY KEY (professional_id, valid_from)
);
CREATE INDEX professional_availability_history_period_idx
    ON {{mart}}.professional_availability_history (valid_from, valid_to);
