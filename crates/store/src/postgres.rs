//! The store on PostgreSQL: `backend.rs` and the files it names, compiled with [`Db`] = sqlx's
//! PostgreSQL driver.

/// The sqlx driver the per-backend code is compiled for.
pub(crate) type Db = sqlx::Postgres;

/// PostgreSQL's writers run in parallel, each locking only the rows it changes.
pub(crate) const ONE_WRITER: bool = false;

/// After an import that inserted users with their upstream ids: the identity sequence moves past
/// the largest, so that a user created afterwards never takes an imported id.
pub(crate) const ADVANCE_USER_IDS: Option<&str> =
    Some("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))");

/// How an import looks up a batch's origins (`import.rs`): joined to the keys as a `VALUES` table.
/// PostgreSQL compares a bound `IN (…)` list element by element for every row it scans, and its
/// statistics lag behind a table an import is filling, so that form grew quadratically.
pub(crate) const KEYS_JOINED: bool = true;

/// A change is announced by `NOTIFY` inside the transaction that makes it: PostgreSQL delivers it
/// at commit and drops it on rollback, so no notice is ever early, lost in between or false.
pub(crate) const NOTIFY: Option<&str> = Some("SELECT pg_notify('latchkey', $1)");
/// Every node listens (`listen.rs`).
pub(crate) const LISTENER: Option<fn(sqlx::Pool<Db>, crate::notices::Sender)> =
    Some(crate::listen::spawn);

/// Kept connections (`kept.rs`) plan each statement once, and only with index scans. PostgreSQL
/// otherwise weighs a fresh plan for each run of a prepared statement against its generic plan,
/// and for a statement over bound arrays (the `UNNEST` batches below) the fresh plan always looks
/// cheaper: it planned every batch anew, a third of its CPU under the code exchange. A generic plan
/// is kept until the tables' statistics change, so one made while a table was nearly empty (on
/// the first exchange of a new installation) would scan the whole table for as long: index scans
/// only, since every statement that runs on a kept connection looks its rows up by key, and
/// whatever the table's size, that is its best plan.
pub(crate) const KEPT_OPTIONS: crate::kept::KeptOptions<Db> = |options| {
    options.options([
        ("plan_cache_mode", "force_generic_plan"),
        ("enable_seqscan", "off"),
    ])
};

/// A group-committed batch of opaque access tokens (`tokens.rs`) as one statement whose text is the
/// same for every batch: each column's values go as one array, unnested into rows. A `VALUES` list
/// is a new statement for every batch size, which a connection parses and plans afresh for each
/// size it meets (up to 100 of them).
pub(crate) const ACCESS_ROWS: Option<crate::batch::AccessRows<Db>> = Some(unnested_access_rows);

fn unnested_access_rows(
    rows: &[latchkey_core::store::AccessTokenRow],
) -> sqlx::query::Query<'_, Db, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO access_tokens \
         (hash, jti, client_id, user_id, scopes, issued_at, expires_at, family_id, revoked) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::int8[], $5::text[], \
         $6::int8[], $7::int8[], $8::text[], $9::bool[])",
    )
    .bind(rows.iter().map(|a| a.hash.as_bytes()).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.jti.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|a| a.client_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|a| a.user_id.0).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|a| crate::codec::join(&a.scopes))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|a| a.issued_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.expires_at).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|a| a.family_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|a| a.revoked).collect::<Vec<_>>())
}

/// A batch of reads on a request's path (`lookup.rs`): its hashes are one bound array.
pub(crate) const READ_MANY: crate::lookup::ReadMany<Db> = |lookup, hashes| {
    sqlx::query(lookup.in_array).bind(hashes.iter().map(|h| h.as_bytes()).collect::<Vec<_>>())
};

/// A batch of code redemptions (`codes.rs`) as one statement, which PostgreSQL runs atomically:
/// the codes are taken by one `UPDATE`, and only the families that took theirs are inserted, with
/// their first refresh tokens and opaque access tokens, by `INSERT`s in the same statement; it
/// answers with the families that won. Against a transaction of a statement per code and per table,
/// one round trip instead of four or more per batch, and no `BEGIN`/`COMMIT` of its own.
///
/// The codes' rows are locked first, in the order of their hashes, so that two batches in flight
/// with codes in common wait for each other instead of deadlocking; a code that a batch committed
/// meanwhile is then seen used. Two redemptions of one code in one batch match its row twice, and
/// PostgreSQL updates it once, from one of them (which one is the join's choice, as arrival order
/// would be): the family the row then names is the one that won, and the other is a replay.
/// Run twice (a kept connection lost before its answer came, `kept.rs`), the second run finds the
/// codes used: those exchanges answer `invalid_grant` and revoke what the first run stored, as a
/// loser of any race does, so no tokens live that nobody was given.
pub(crate) const REDEEM_ROWS: Option<crate::batch::RedeemRows<Db>> = Some(redemptions_in_one);

fn redemptions_in_one(
    batch: &[crate::store::Redemption],
) -> sqlx::query::Query<'_, Db, sqlx::postgres::PgArguments> {
    let families = || batch.iter().map(|r| &r.family.family);
    let firsts = || batch.iter().map(|r| &r.family.first);
    let access: Vec<_> = batch
        .iter()
        .filter_map(|r| Some((r.family.family.id.as_str(), r.family.access.as_ref()?)))
        .collect();
    sqlx::query(
        "WITH wanted AS ( \
           SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::int8[]) AS w(code, family, now) \
         ), locked AS MATERIALIZED ( \
           SELECT hash FROM authorization_codes WHERE hash = ANY($1) ORDER BY hash FOR UPDATE \
         ), taken AS ( \
           UPDATE authorization_codes c SET used_at = w.now, family_id = w.family \
           FROM locked l, wanted w \
           WHERE c.hash = l.hash AND w.code = l.hash AND c.used_at IS NULL \
             AND c.expires_at > w.now \
           RETURNING c.family_id \
         ), families AS ( \
           INSERT INTO refresh_families (id, client_id, user_id, created_at, expires_at) \
           SELECT * FROM UNNEST($2::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[]) \
             AS f(id, client_id, user_id, created_at, expires_at) \
           WHERE f.id IN (SELECT family_id FROM taken) \
         ), firsts AS ( \
           INSERT INTO refresh_tokens (hash, family_id, scopes, issued_at, expires_at, \
             access_jti, access_expires_at) \
           SELECT hash, family_id, scopes, issued_at, expires_at, access_jti, access_expires_at \
           FROM UNNEST($2::text[], $8::bytea[], $9::text[], $10::text[], $11::int8[], \
             $12::int8[], $13::text[], $14::int8[]) AS r(owner, hash, family_id, scopes, \
             issued_at, expires_at, access_jti, access_expires_at) \
           WHERE r.owner IN (SELECT family_id FROM taken) \
         ), access AS ( \
           INSERT INTO access_tokens (hash, jti, client_id, user_id, scopes, issued_at, \
             expires_at, family_id, revoked) \
           SELECT hash, jti, client_id, user_id, scopes, issued_at, expires_at, family_id, revoked \
           FROM UNNEST($15::text[], $16::bytea[], $17::text[], $18::text[], $19::int8[], \
             $20::text[], $21::int8[], $22::int8[], $23::text[], $24::bool[]) AS a(owner, hash, \
             jti, client_id, user_id, scopes, issued_at, expires_at, family_id, revoked) \
           WHERE a.owner IN (SELECT family_id FROM taken) \
         ) \
         SELECT family_id FROM taken",
    )
    .bind(batch.iter().map(|r| r.code.as_bytes()).collect::<Vec<_>>())
    .bind(families().map(|f| f.id.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.now).collect::<Vec<_>>())
    .bind(families().map(|f| f.client_id.as_str()).collect::<Vec<_>>())
    .bind(families().map(|f| f.user_id.0).collect::<Vec<_>>())
    .bind(families().map(|f| f.created_at).collect::<Vec<_>>())
    .bind(families().map(|f| f.expires_at).collect::<Vec<_>>())
    .bind(firsts().map(|n| n.hash.as_bytes()).collect::<Vec<_>>())
    .bind(firsts().map(|n| n.family_id.as_str()).collect::<Vec<_>>())
    .bind(
        firsts()
            .map(|n| crate::codec::join(&n.scopes))
            .collect::<Vec<_>>(),
    )
    .bind(firsts().map(|n| n.issued_at).collect::<Vec<_>>())
    .bind(firsts().map(|n| n.expires_at).collect::<Vec<_>>())
    .bind(firsts().map(|n| n.access_jti.as_str()).collect::<Vec<_>>())
    .bind(firsts().map(|n| n.access_expires_at).collect::<Vec<_>>())
    .bind(access.iter().map(|(owner, _)| *owner).collect::<Vec<_>>())
    .bind(
        access
            .iter()
            .map(|(_, a)| a.hash.as_bytes())
            .collect::<Vec<_>>(),
    )
    .bind(
        access
            .iter()
            .map(|(_, a)| a.jti.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        access
            .iter()
            .map(|(_, a)| a.client_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(access.iter().map(|(_, a)| a.user_id.0).collect::<Vec<_>>())
    .bind(
        access
            .iter()
            .map(|(_, a)| crate::codec::join(&a.scopes))
            .collect::<Vec<_>>(),
    )
    .bind(access.iter().map(|(_, a)| a.issued_at).collect::<Vec<_>>())
    .bind(access.iter().map(|(_, a)| a.expires_at).collect::<Vec<_>>())
    .bind(
        access
            .iter()
            .map(|(_, a)| a.family_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(access.iter().map(|(_, a)| a.revoked).collect::<Vec<_>>())
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

// The same files as `sqlite.rs` includes: see `backend.rs` for why.
#[allow(clippy::duplicate_mod)]
#[path = "backend.rs"]
mod backend;
