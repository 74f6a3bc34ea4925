-- The ledger schema. Every safeguard the seed asks for lives here, not only in
-- Python: UNIQUE broker ids, FOREIGN KEYs from legs to groups and accounts,
-- CHECKs on amounts, append-only triggers, and a "seal" row per batch whose
-- triggers refuse the batch unless every group balances and the leg count
-- matches the telemetry.  Money is INTEGER cents; quantities are decimal text.
-- Object names are stable: the startup check compares them with this file.

CREATE TABLE IF NOT EXISTS accounts (
    code        TEXT PRIMARY KEY CONSTRAINT account_code_shape CHECK (length(code) BETWEEN 1 AND 32),
    name        TEXT NOT NULL CONSTRAINT account_name_shape CHECK (length(name) BETWEEN 1 AND 120),
    kind        TEXT NOT NULL CONSTRAINT account_kind CHECK (kind IN ('asset', 'liability', 'equity', 'income', 'expense')),
    batch_id    TEXT NOT NULL REFERENCES batches(batch_id) DEFERRABLE INITIALLY DEFERRED
) STRICT;

-- Append-only history of role -> account; the newest row of a role is current.
CREATE TABLE IF NOT EXISTS coa_mapping (
    mapping_id   INTEGER PRIMARY KEY,
    role         TEXT NOT NULL CONSTRAINT mapping_role_shape CHECK (length(role) BETWEEN 1 AND 32),
    account_code TEXT NOT NULL REFERENCES accounts(code),
    batch_id     TEXT NOT NULL REFERENCES batches(batch_id) DEFERRABLE INITIALLY DEFERRED
) STRICT;

-- One row per committed batch, written last in its transaction (the seal).
CREATE TABLE IF NOT EXISTS batches (
    batch_id      TEXT PRIMARY KEY CONSTRAINT batch_id_shape CHECK (length(batch_id) BETWEEN 1 AND 200),
    sync_run_id   TEXT UNIQUE,
    broker_code   TEXT,
    kind          TEXT NOT NULL CONSTRAINT batch_kind CHECK (kind IN ('sync', 'posting', 'coa', 'hook', 'override', 'reversal')),
    caller        TEXT NOT NULL CONSTRAINT batch_caller CHECK (caller IN ('system', 'ui')),
    reason        TEXT NOT NULL,
    started_utc   TEXT NOT NULL CHECK (started_utc LIKE '____-__-__T__:__:__%Z'),
    completed_utc TEXT NOT NULL CHECK (completed_utc LIKE '____-__-__T__:__:__%Z'),
    row_count     INTEGER NOT NULL CHECK (row_count >= 0),
    skipped_known INTEGER NOT NULL DEFAULT 0 CHECK (skipped_known >= 0),
    commit_state  TEXT NOT NULL CONSTRAINT batch_committed CHECK (commit_state = 'committed')
) STRICT;

-- Attempts that were rolled back; written after the ROLLBACK, in a transaction of their own.
CREATE TABLE IF NOT EXISTS failed_batches (
    attempt_id     INTEGER PRIMARY KEY,
    batch_id       TEXT NOT NULL,
    sync_run_id    TEXT,
    broker_code    TEXT,
    kind           TEXT NOT NULL,
    caller         TEXT NOT NULL CONSTRAINT failed_caller CHECK (caller IN ('system', 'ui')),
    reason         TEXT NOT NULL,
    started_utc    TEXT NOT NULL,
    completed_utc  TEXT NOT NULL,
    row_count      INTEGER NOT NULL CHECK (row_count >= 0),
    commit_state   TEXT NOT NULL CONSTRAINT failed_rolled_back CHECK (commit_state = 'rolled_back'),
    error_category TEXT NOT NULL,
    error_detail   TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS groups (
    group_id          INTEGER PRIMARY KEY,
    batch_id          TEXT NOT NULL REFERENCES batches(batch_id) DEFERRABLE INITIALLY DEFERRED,
    -- CASE, not IN (...): the same set (a NOT NULL column, BINARY collation either way), but SQLite
    -- builds an ephemeral table for an IN list of this size on every row, which cost a third of an insert.
    kind              TEXT NOT NULL CONSTRAINT group_kind CHECK (CASE kind WHEN 'FILL' THEN 1 WHEN 'FEE' THEN 1
                          WHEN 'DIVIDEND' THEN 1 WHEN 'INTEREST' THEN 1 WHEN 'TRANSFER' THEN 1 WHEN 'REVERSAL' THEN 1
                          WHEN 'RECLASS' THEN 1 WHEN 'FLOAT_TOPUP' THEN 1 WHEN 'TAX_RESERVE' THEN 1 WHEN 'PAYROLL' THEN 1
                          WHEN 'REINVEST' THEN 1 WHEN 'OVERRIDE' THEN 1 WHEN 'POSTING' THEN 1 ELSE 0 END),
    effective_utc     TEXT NOT NULL CHECK (effective_utc LIKE '____-__-__T__:__:__%Z'),
    memo              TEXT NOT NULL,
    symbol            TEXT NOT NULL DEFAULT '',
    broker_code       TEXT,
    fitid             TEXT,
    content_hash      TEXT,
    reverses_group_id INTEGER UNIQUE REFERENCES groups(group_id),
    CONSTRAINT group_broker_fitid_unique UNIQUE (broker_code, fitid),
    CONSTRAINT group_fitid_pair CHECK ((broker_code IS NULL) = (fitid IS NULL))
) STRICT;
CREATE INDEX IF NOT EXISTS groups_by_batch ON groups(batch_id);

CREATE TABLE IF NOT EXISTS legs (
    leg_id       INTEGER PRIMARY KEY,
    group_id     INTEGER NOT NULL REFERENCES groups(group_id),
    account_code TEXT NOT NULL REFERENCES accounts(code),
    debit_cents  INTEGER NOT NULL CONSTRAINT leg_debit_non_negative CHECK (debit_cents >= 0),
    credit_cents INTEGER NOT NULL CONSTRAINT leg_credit_non_negative CHECK (credit_cents >= 0),
    CONSTRAINT leg_one_side CHECK ((debit_cents = 0) <> (credit_cents = 0))
) STRICT;
CREATE INDEX IF NOT EXISTS legs_by_group ON legs(group_id);

-- FIFO cost lots opened by buys and relieved by sells (same batch as their group).
CREATE TABLE IF NOT EXISTS lots (
    lot_id      INTEGER PRIMARY KEY,
    group_id    INTEGER NOT NULL REFERENCES groups(group_id),
    broker_code TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    qty         TEXT NOT NULL CONSTRAINT lot_qty_shape CHECK (length(qty) BETWEEN 1 AND 40),
    cost_cents  INTEGER NOT NULL CONSTRAINT lot_cost_non_negative CHECK (cost_cents >= 0)
) STRICT;
CREATE INDEX IF NOT EXISTS lots_by_symbol ON lots(broker_code, symbol);

CREATE TABLE IF NOT EXISTS lot_reliefs (
    relief_id  INTEGER PRIMARY KEY,
    lot_id     INTEGER NOT NULL REFERENCES lots(lot_id),
    group_id   INTEGER NOT NULL REFERENCES groups(group_id),
    qty        TEXT NOT NULL CONSTRAINT relief_qty_shape CHECK (length(qty) BETWEEN 1 AND 40),
    cost_cents INTEGER NOT NULL CONSTRAINT relief_cost_non_negative CHECK (cost_cents >= 0)
) STRICT;
CREATE INDEX IF NOT EXISTS lot_reliefs_by_lot ON lot_reliefs(lot_id);

CREATE VIEW IF NOT EXISTS batch_telemetry AS
    SELECT batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count,
           commit_state, '' AS error_category, '' AS error_detail FROM batches
    UNION ALL
    SELECT batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count,
           commit_state, error_category, error_detail FROM failed_batches;

-- The seal: a batch row is refused unless its groups balance and its legs match row_count.
CREATE TRIGGER IF NOT EXISTS batch_seal_balanced BEFORE INSERT ON batches
WHEN EXISTS (SELECT 1 FROM groups g LEFT JOIN legs l ON l.group_id = g.group_id WHERE g.batch_id = NEW.batch_id
             GROUP BY g.group_id HAVING count(l.leg_id) < 2 OR total(l.debit_cents) <> total(l.credit_cents))
BEGIN SELECT RAISE(ABORT, 'batch_seal_balanced: a group of this batch is unbalanced or has fewer than two legs'); END;

CREATE TRIGGER IF NOT EXISTS batch_seal_row_count BEFORE INSERT ON batches
WHEN NEW.row_count <> (SELECT count(*) FROM legs l JOIN groups g ON g.group_id = l.group_id WHERE g.batch_id = NEW.batch_id)
BEGIN SELECT RAISE(ABORT, 'batch_seal_row_count: row_count does not match the legs of the batch'); END;

CREATE TRIGGER IF NOT EXISTS groups_not_into_sealed_batch BEFORE INSERT ON groups
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id)
BEGIN SELECT RAISE(ABORT, 'groups_not_into_sealed_batch: the batch is already committed'); END;

CREATE TRIGGER IF NOT EXISTS legs_not_into_sealed_group BEFORE INSERT ON legs
WHEN EXISTS (SELECT 1 FROM groups g JOIN batches b ON b.batch_id = g.batch_id WHERE g.group_id = NEW.group_id)
BEGIN SELECT RAISE(ABORT, 'legs_not_into_sealed_group: the group is already committed'); END;

-- Append-only: corrections are reversing entries, never edits.
CREATE TRIGGER IF NOT EXISTS accounts_no_update BEFORE UPDATE ON accounts BEGIN SELECT RAISE(ABORT, 'accounts_no_update: accounts are append-only'); END;
CREATE TRIGGER IF NOT EXISTS accounts_no_delete BEFORE DELETE ON accounts BEGIN SELECT RAISE(ABORT, 'accounts_no_delete: accounts are append-only'); END;
CREATE TRIGGER IF NOT EXISTS coa_mapping_no_update BEFORE UPDATE ON coa_mapping BEGIN SELECT RAISE(ABORT, 'coa_mapping_no_update: remap by adding a row'); END;
CREATE TRIGGER IF NOT EXISTS coa_mapping_no_delete BEFORE DELETE ON coa_mapping BEGIN SELECT RAISE(ABORT, 'coa_mapping_no_delete: remap by adding a row'); END;
CREATE TRIGGER IF NOT EXISTS batches_no_update BEFORE UPDATE ON batches BEGIN SELECT RAISE(ABORT, 'batches_no_update: batch telemetry is append-only'); END;
CREATE TRIGGER IF NOT EXISTS batches_no_delete BEFORE DELETE ON batches BEGIN SELECT RAISE(ABORT, 'batches_no_delete: batch telemetry is append-only'); END;
CREATE TRIGGER IF NOT EXISTS failed_batches_no_update BEFORE UPDATE ON failed_batches BEGIN SELECT RAISE(ABORT, 'failed_batches_no_update: batch telemetry is append-only'); END;
CREATE TRIGGER IF NOT EXISTS failed_batches_no_delete BEFORE DELETE ON failed_batches BEGIN SELECT RAISE(ABORT, 'failed_batches_no_delete: batch telemetry is append-only'); END;
CREATE TRIGGER IF NOT EXISTS groups_no_update BEFORE UPDATE ON groups BEGIN SELECT RAISE(ABORT, 'groups_no_update: post a reversing entry instead'); END;
CREATE TRIGGER IF NOT EXISTS groups_no_delete BEFORE DELETE ON groups BEGIN SELECT RAISE(ABORT, 'groups_no_delete: post a reversing entry instead'); END;
CREATE TRIGGER IF NOT EXISTS legs_no_update BEFORE UPDATE ON legs BEGIN SELECT RAISE(ABORT, 'legs_no_update: post a reversing entry instead'); END;
CREATE TRIGGER IF NOT EXISTS legs_no_delete BEFORE DELETE ON legs BEGIN SELECT RAISE(ABORT, 'legs_no_delete: post a reversing entry instead'); END;
CREATE TRIGGER IF NOT EXISTS lots_no_update BEFORE UPDATE ON lots BEGIN SELECT RAISE(ABORT, 'lots_no_update: lots are append-only'); END;
CREATE TRIGGER IF NOT EXISTS lots_no_delete BEFORE DELETE ON lots BEGIN SELECT RAISE(ABORT, 'lots_no_delete: lots are append-only'); END;
CREATE TRIGGER IF NOT EXISTS lot_reliefs_no_update BEFORE UPDATE ON lot_reliefs BEGIN SELECT RAISE(ABORT, 'lot_reliefs_no_update: reliefs are append-only'); END;
CREATE TRIGGER IF NOT EXISTS lot_reliefs_no_delete BEFORE DELETE ON lot_reliefs BEGIN SELECT RAISE(ABORT, 'lot_reliefs_no_delete: reliefs are append-only'); END;
