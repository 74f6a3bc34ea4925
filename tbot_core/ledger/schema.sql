-- The ledger schema (version 3). Every safeguard the seed asks for lives here, not
-- only in Python: UNIQUE broker ids, FOREIGN KEYs from legs to groups and accounts,
-- CHECKs on amounts, append-only triggers, and a "seal" row per batch whose
-- triggers refuse the batch unless every group balances and the counts match.
-- Money is INTEGER cents; quantities are decimal text.
--
-- Slots instead of per-row triggers: a group declares how many legs it has
-- (leg_count) and a batch how many groups (group_count).  A leg must take a free
-- slot 1..leg_count of its group (PRIMARY KEY (group_id, leg_no)) and repeat the
-- group's leg_count (composite FOREIGN KEY); a group does the same with its
-- batch (UNIQUE (batch_id, group_no), deferred FOREIGN KEY to the seal).  The
-- seal proves every slot is filled, so nothing can ever be added to a committed
-- group or batch: a new row either collides with a taken slot or names a count
-- its parent does not have.  That is the guarantee per-row "not into a sealed
-- batch" triggers gave, without a trigger program run for every leg.
-- Object names are stable: the startup check compares them with this file.
--
-- Version 3: posted rows cannot be rewritten by any SQL, and the books are
-- tamper-evident.  A REPLACE deletes the old row without firing DELETE triggers
-- unless the writer turned recursive_triggers on, so every table of posted rows
-- has a "_no_replace" BEFORE INSERT trigger that refuses a row colliding with an
-- existing key, whatever the writer's pragmas (an UPSERT fires it first too).
-- The posting path itself (batch.py, Ledger._insert) inserts with its own
-- connection's triggers off: its statements are plain INSERTs, which every
-- PRIMARY KEY and UNIQUE constraint these triggers test already refuses, and a
-- trigger's sub-program per row was a quarter of a post.  The seal row is
-- written with the triggers on, and every other statement keeps them.
-- Each batch row carries seq (1, 2, 3, ... enforced by batch_seal_chain) and
-- batch_hash, a SHA-256 over its own fields, every row it wrote and the hash of
-- batch seq - 1 (tbot_core/ledger/chain.py computes and verifies it; the rows'
-- canonical bytes are version 2, tbot_core/ledger/canonical.py, since; version 1
-- hashes of older books still verify).
-- Measured since (bench/ledger.py, perf): the trigger programs themselves are cheap;
-- what they cost is the per-row statement journal SQLite opens for a statement that
-- has triggers, which spilled to a temporary file on disk.  Writers keep temp storage
-- in memory (conn.py), and the posting path encodes the batch hash from the rows it
-- drafted instead of reading them back (canonical.draft_sections).

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
    commit_state  TEXT NOT NULL CONSTRAINT batch_committed CHECK (commit_state = 'committed'),
    group_count   INTEGER NOT NULL CONSTRAINT batch_group_count CHECK (group_count >= 0),
    -- A sync run's activities exactly as they were handed in (sync.input_digest): a re-run of the same
    -- sync_run_id with the same input is answered from this without re-hashing every activity.
    input_digest  TEXT CONSTRAINT batch_input_digest_shape CHECK (input_digest IS NULL OR length(input_digest) = 64),
    seq           INTEGER NOT NULL CONSTRAINT batch_seq_positive CHECK (seq >= 1),
    batch_hash    TEXT NOT NULL CONSTRAINT batch_hash_shape CHECK (length(batch_hash) = 64),
    CONSTRAINT batch_group_slots UNIQUE (batch_id, group_count),
    CONSTRAINT batch_seq_unique UNIQUE (seq)
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
    batch_id          TEXT NOT NULL,
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
    reverses_group_id INTEGER REFERENCES groups(group_id),
    group_no          INTEGER NOT NULL CONSTRAINT group_slot_range CHECK (group_no BETWEEN 1 AND group_count),
    group_count       INTEGER NOT NULL,
    leg_count         INTEGER NOT NULL CONSTRAINT group_two_legs CHECK (leg_count >= 2),
    CONSTRAINT group_slot UNIQUE (batch_id, group_no),
    CONSTRAINT group_leg_slots UNIQUE (group_id, leg_count),
    CONSTRAINT group_broker_fitid_unique UNIQUE (broker_code, fitid),
    CONSTRAINT group_fitid_pair CHECK ((broker_code IS NULL) = (fitid IS NULL)),
    CONSTRAINT group_batch FOREIGN KEY (batch_id, group_count) REFERENCES batches(batch_id, group_count) DEFERRABLE INITIALLY DEFERRED
) STRICT;
-- A group is reversed at most once; most groups reverse nothing, so the index skips them.
CREATE UNIQUE INDEX IF NOT EXISTS group_reversed_once ON groups(reverses_group_id) WHERE reverses_group_id IS NOT NULL;

-- Clustered by group (WITHOUT ROWID): the seal and every per-group read walk one key range.
CREATE TABLE IF NOT EXISTS legs (
    group_id     INTEGER NOT NULL,
    leg_no       INTEGER NOT NULL CONSTRAINT leg_slot_range CHECK (leg_no BETWEEN 1 AND leg_count),
    account_code TEXT NOT NULL REFERENCES accounts(code),
    debit_cents  INTEGER NOT NULL CONSTRAINT leg_debit_non_negative CHECK (debit_cents >= 0),
    credit_cents INTEGER NOT NULL CONSTRAINT leg_credit_non_negative CHECK (credit_cents >= 0),
    leg_count    INTEGER NOT NULL,
    CONSTRAINT leg_one_side CHECK ((debit_cents = 0) <> (credit_cents = 0)),
    CONSTRAINT leg_slot PRIMARY KEY (group_id, leg_no),
    CONSTRAINT leg_group FOREIGN KEY (group_id, leg_count) REFERENCES groups(group_id, leg_count)
) STRICT, WITHOUT ROWID;

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
-- The hash chain reads a batch's lots and reliefs through their groups.
CREATE INDEX IF NOT EXISTS lots_by_group ON lots(group_id);

CREATE TABLE IF NOT EXISTS lot_reliefs (
    relief_id  INTEGER PRIMARY KEY,
    lot_id     INTEGER NOT NULL REFERENCES lots(lot_id),
    group_id   INTEGER NOT NULL REFERENCES groups(group_id),
    qty        TEXT NOT NULL CONSTRAINT relief_qty_shape CHECK (length(qty) BETWEEN 1 AND 40),
    cost_cents INTEGER NOT NULL CONSTRAINT relief_cost_non_negative CHECK (cost_cents >= 0)
) STRICT;
CREATE INDEX IF NOT EXISTS lot_reliefs_by_lot ON lot_reliefs(lot_id);
CREATE INDEX IF NOT EXISTS lot_reliefs_by_group ON lot_reliefs(group_id);

-- Where the startup check stopped verifying the hash chain (one row; not posted data, so it is updated in place).
-- head_seq/head_hash: the newest batch verified; sweep_seq: how far the rotating re-check of older batches got.
CREATE TABLE IF NOT EXISTS chain_checkpoint (
    slot         INTEGER PRIMARY KEY CONSTRAINT checkpoint_one_row CHECK (slot = 1),
    head_seq     INTEGER NOT NULL CHECK (head_seq >= 0),
    head_hash    TEXT NOT NULL CHECK (length(head_hash) = 64),
    sweep_seq    INTEGER NOT NULL CHECK (sweep_seq >= 0),
    verified_utc TEXT NOT NULL CHECK (verified_utc LIKE '____-__-__T__:__:__%Z')
) STRICT;

CREATE VIEW IF NOT EXISTS batch_telemetry AS
    SELECT batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count,
           commit_state, '' AS error_category, '' AS error_detail FROM batches
    UNION ALL
    SELECT batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count,
           commit_state, error_category, error_detail FROM failed_batches;

-- The seal: a batch row is refused unless every group of the batch holds exactly its
-- leg_count legs and balances, and the batch holds exactly group_count groups and
-- row_count legs.  sum(), not total(): integer sums are exact.
CREATE TRIGGER IF NOT EXISTS batch_seal_balanced BEFORE INSERT ON batches
WHEN EXISTS (SELECT 1 FROM groups g WHERE g.batch_id = NEW.batch_id AND
             (SELECT (count(*), sum(l.debit_cents)) IS NOT (g.leg_count, sum(l.credit_cents)) FROM legs l WHERE l.group_id = g.group_id))
BEGIN SELECT RAISE(ABORT, 'batch_seal_balanced: a group of this batch is unbalanced or misses a leg'); END;

CREATE TRIGGER IF NOT EXISTS batch_seal_row_count BEFORE INSERT ON batches
WHEN (NEW.group_count, NEW.row_count) IS NOT (SELECT count(*), coalesce(sum(leg_count), 0) FROM groups WHERE batch_id = NEW.batch_id)
BEGIN SELECT RAISE(ABORT, 'batch_seal_row_count: group_count or row_count does not match the rows of the batch'); END;

-- The chain: a batch takes the next seq, so "the previous batch" is always seq - 1.
CREATE TRIGGER IF NOT EXISTS batch_seal_chain BEFORE INSERT ON batches
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM batches)
BEGIN SELECT RAISE(ABORT, 'batch_seal_chain: seq must be one more than the newest batch'); END;

-- No REPLACE, no UPSERT: a row may only be inserted under keys no posted row holds.  Every UNIQUE key
-- of the table is tested, since a REPLACE deletes whichever row collides on any of them (a NULL key collides
-- with nothing, so its lookup is skipped: most postings carry no fitid and reverse nothing).
CREATE TRIGGER IF NOT EXISTS accounts_no_replace BEFORE INSERT ON accounts
WHEN EXISTS (SELECT 1 FROM accounts WHERE code = NEW.code)
BEGIN SELECT RAISE(ABORT, 'accounts_no_replace: an account with this code exists; accounts are append-only'); END;
CREATE TRIGGER IF NOT EXISTS coa_mapping_no_replace BEFORE INSERT ON coa_mapping
WHEN EXISTS (SELECT 1 FROM coa_mapping WHERE mapping_id = NEW.mapping_id)
BEGIN SELECT RAISE(ABORT, 'coa_mapping_no_replace: remap by adding a row'); END;
CREATE TRIGGER IF NOT EXISTS batches_no_replace BEFORE INSERT ON batches
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id) OR EXISTS (SELECT 1 FROM batches WHERE sync_run_id = NEW.sync_run_id)
  OR EXISTS (SELECT 1 FROM batches WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'batches_no_replace: a batch with this batch_id, sync_run_id or seq is already committed'); END;
CREATE TRIGGER IF NOT EXISTS failed_batches_no_replace BEFORE INSERT ON failed_batches
WHEN EXISTS (SELECT 1 FROM failed_batches WHERE attempt_id = NEW.attempt_id)
BEGIN SELECT RAISE(ABORT, 'failed_batches_no_replace: batch telemetry is append-only'); END;
CREATE TRIGGER IF NOT EXISTS groups_no_replace BEFORE INSERT ON groups
WHEN EXISTS (SELECT 1 FROM groups WHERE group_id = NEW.group_id)
  OR EXISTS (SELECT 1 FROM groups WHERE batch_id = NEW.batch_id AND group_no = NEW.group_no)
  OR (NEW.fitid IS NOT NULL AND EXISTS (SELECT 1 FROM groups WHERE broker_code = NEW.broker_code AND fitid = NEW.fitid))
  OR (NEW.reverses_group_id IS NOT NULL AND EXISTS (SELECT 1 FROM groups WHERE reverses_group_id = NEW.reverses_group_id))
BEGIN SELECT RAISE(ABORT, 'groups_no_replace: a posted group holds this group_id, slot, fitid or reversal; post a reversing entry instead'); END;
CREATE TRIGGER IF NOT EXISTS legs_no_replace BEFORE INSERT ON legs
WHEN EXISTS (SELECT 1 FROM legs WHERE group_id = NEW.group_id AND leg_no = NEW.leg_no)
BEGIN SELECT RAISE(ABORT, 'legs_no_replace: this leg slot is taken; post a reversing entry instead'); END;
CREATE TRIGGER IF NOT EXISTS lots_no_replace BEFORE INSERT ON lots
WHEN EXISTS (SELECT 1 FROM lots WHERE lot_id = NEW.lot_id)
BEGIN SELECT RAISE(ABORT, 'lots_no_replace: lots are append-only'); END;
CREATE TRIGGER IF NOT EXISTS lot_reliefs_no_replace BEFORE INSERT ON lot_reliefs
WHEN EXISTS (SELECT 1 FROM lot_reliefs WHERE relief_id = NEW.relief_id)
BEGIN SELECT RAISE(ABORT, 'lot_reliefs_no_replace: reliefs are append-only'); END;

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
