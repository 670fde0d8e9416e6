-- The warehouse's base tables and the analysts' views. Applied at every connect; idempotent.
-- Derived tables are created by their own SQL files (sql/<stage>/<table>.sql).

create table if not exists file_ledger (
    file_name        varchar not null,
    feed             varchar not null,     -- BRCH, CUST, ACCT, TXN
    channel          varchar,              -- TXN only
    business_date    date not null,
    size_bytes       bigint,
    sha256           varchar,
    control_count    bigint,
    control_amount   decimal(20,2),
    rows_loaded      bigint,
    rows_quarantined bigint,
    outcome          varchar not null,     -- loaded, replaced, rejected, held
    message          varchar,
    received_at      timestamp not null
);

create table if not exists history_waivers (  -- cvp waive: dates accepted as incomplete
    business_date date not null,
    reason        varchar not null,
    waived_at     timestamp not null
);

create table if not exists quarantine (
    file_name      varchar not null,
    feed           varchar not null,
    business_date  date not null,
    line_number    bigint not null,
    raw_line       varchar,                -- may hold personal data: never exported
    reason         varchar not null,
    quarantined_at timestamp not null
);

-- A snapshot held by the shrink guard (ingest.snapshot_max_shrink) is applied once its exact
-- content (sha256) is accepted here: `cvp accept --file NAME`.
create table if not exists accepted_files (
    file_name     varchar not null,
    business_date date not null,
    sha256        varchar not null,
    accepted_at   timestamp not null,
    accepted_by   varchar
);

-- Rows loaded although their customer_id is not a current customer
-- (ingest.unknown_customer: load); with the default (quarantine) they are in quarantine.
create table if not exists unknown_customer_rows (
    file_name     varchar not null,
    feed          varchar not null,
    business_date date not null,
    line_number   bigint not null,
    customer_id   varchar not null
);

create table if not exists run_ledger (
    run_id        varchar not null,
    stage         varchar not null,
    business_date date not null,
    status        varchar not null,       -- running, succeeded, failed, skipped
    started_at    timestamp not null,
    ended_at      timestamp,
    rows          bigint,
    config_hash   varchar,
    inputs_hash   varchar,
    code_version  varchar,
    message       varchar
);

create table if not exists stg_transactions (
    txn_id                   varchar not null,
    txn_date                 date not null,
    txn_time                 time not null,
    customer_id              varchar not null,
    account_id               varchar not null,
    channel                  varchar not null,
    txn_code                 varchar not null,
    direction                varchar not null,
    amount                   decimal(18,2) not null,
    currency                 varchar not null,
    fee                      decimal(18,2),
    counterparty_account     varchar,
    counterparty_name        varchar,
    counterparty_bank        varchar,
    counterparty_customer_id varchar,
    mcc                      varchar,
    branch_id                varchar,
    terminal_id              varchar,
    business_date            date not null,   -- the delivery the row came in
    line_number              bigint not null
);

-- Snapshots keep history as versions (type-2): a row is valid from valid_from (inclusive) to
-- valid_to (exclusive); the current version has valid_to = 9999-12-31. A new version is
-- written only when something in the row changed, so a quiet account costs one row a year.
create table if not exists hist_customers (
    customer_id       varchar not null,
    name              varchar,
    gender            varchar,
    birth_date        date,
    id_type           varchar,
    id_number         varchar,
    mobile            varchar,
    education         varchar,
    occupation        varchar,
    industry          varchar,
    region_code       varchar,
    home_branch_id    varchar,
    rm_id             varchar,
    open_date         date,
    business_license  varchar,
    marketing_consent varchar,
    status            varchar,
    row_hash          ubigint not null,
    valid_from        date not null,
    valid_to          date not null
);

create table if not exists hist_accounts (
    account_id    varchar not null,
    customer_id   varchar not null,
    product_code  varchar,
    open_date     date,
    maturity_date date,
    close_date    date,
    balance       decimal(18,2),
    credit_limit  decimal(18,2),
    interest_rate decimal(12,6),
    currency      varchar,
    branch_id     varchar,
    status        varchar,
    days_past_due integer,
    row_hash      ubigint not null,
    valid_from    date not null,
    valid_to      date not null
);

create table if not exists hist_branches (
    branch_id   varchar not null,
    name        varchar,
    region_code varchar,
    branch_type varchar,
    market_area varchar,
    open_date   date,
    status      varchar,
    row_hash    ubigint not null,
    valid_from  date not null,
    valid_to    date not null
);

create or replace view transactions as
    select * exclude (line_number) from stg_transactions;

create or replace view customers as
    select * exclude (row_hash, valid_to) from hist_customers where valid_to = date '9999-12-31';

create or replace view accounts as
    select * exclude (row_hash, valid_to) from hist_accounts where valid_to = date '9999-12-31';

create or replace view branches as
    select * exclude (row_hash, valid_to) from hist_branches where valid_to = date '9999-12-31';
