//! OAuth2 clients: [`ClientStore`].

use async_trait::async_trait;
use latchkey_core::client::{Client, ClientKind, Lifetimes, Permission, RedirectUri, StoredSecret};
use latchkey_core::notice::Change;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{ClientStore, StoreError};
use latchkey_core::user::UserId;
use sqlx::Row;

use super::{Conn, Db, DbRow};
use crate::codec::{hash_of, join, split};
use crate::errors::{backend, corrupt};
use crate::store::SqlStore;

/// Every column of `clients`, in the order `INSERT` binds them and [`client`] reads them.
macro_rules! client_columns {
    () => {
        "id, name, owner_id, secret_hash, grant_type, redirect_uris, scopes, filters, restricted, \
         skip_authorization, jwt_lifetime, opaque_lifetime, refresh_lifetime, created_at, \
         permissions, secret_django"
    };
}

/// The columns `INSERT` and `UPDATE` spell differently from the fields of [`Client`].
struct Columns {
    secret: Option<Vec<u8>>,
    /// A Django-hashed secret, until its first use (see [`StoredSecret::Django`]).
    django: Option<String>,
    redirect_uris: String,
    scopes: String,
    filters: String,
    /// Space-separated, like scopes.
    permissions: String,
}

impl Columns {
    fn of(c: &Client) -> Self {
        let uris: Vec<String> = c
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect();
        let permissions: Vec<String> = c
            .permissions()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let (secret, django) = match &c.kind {
            ClientKind::Public => (None, None),
            ClientKind::Confidential { secret, .. } => match secret {
                StoredSecret::Keyed(h) => (Some(h.as_bytes().to_vec()), None),
                StoredSecret::Django(d) => (None, Some(d.clone())),
            },
        };
        Columns {
            secret,
            django,
            redirect_uris: join(&uris),
            scopes: join(&c.scopes),
            filters: join(&c.filters),
            permissions: join(&permissions),
        }
    }
}

fn client(r: &DbRow) -> Result<Client, StoreError> {
    let secret: Option<Vec<u8>> = r.try_get("secret_hash").map_err(backend)?;
    let django: Option<String> = r.try_get("secret_django").map_err(backend)?;
    let permissions = split(&r.try_get::<String, _>("permissions").map_err(backend)?)
        .iter()
        .map(|p| p.parse::<Permission>().map_err(corrupt))
        .collect::<Result<_, _>>()?;
    let kind = match (secret, django) {
        (Some(h), None) => ClientKind::Confidential {
            secret: StoredSecret::Keyed(hash_of(&h)?),
            permissions,
        },
        (None, Some(d)) => ClientKind::Confidential {
            secret: StoredSecret::Django(d),
            permissions,
        },
        (Some(_), Some(_)) => return Err(corrupt("a client holds two secrets")),
        (None, None) if permissions.is_empty() => ClientKind::Public,
        (None, None) => return Err(corrupt("a public client holds permissions")),
    };
    let grant: String = r.try_get("grant_type").map_err(backend)?;
    let uris: String = r.try_get("redirect_uris").map_err(backend)?;
    let redirect_uris = split(&uris)
        .iter()
        .map(|u| RedirectUri::try_from(u.as_str()).map_err(corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Client {
        id: r.try_get("id").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        owner: UserId(r.try_get("owner_id").map_err(backend)?),
        kind,
        grant_type: grant.parse().map_err(corrupt)?,
        redirect_uris,
        scopes: split(&r.try_get::<String, _>("scopes").map_err(backend)?),
        filters: split(&r.try_get::<String, _>("filters").map_err(backend)?),
        restricted: r.try_get("restricted").map_err(backend)?,
        skip_authorization: r.try_get("skip_authorization").map_err(backend)?,
        lifetimes: Lifetimes {
            jwt: r.try_get("jwt_lifetime").map_err(backend)?,
            opaque: r.try_get("opaque_lifetime").map_err(backend)?,
            refresh: r.try_get("refresh_lifetime").map_err(backend)?,
        },
        created_at: r.try_get("created_at").map_err(backend)?,
    })
}

/// Every column of the client, bound as `$1`..`$16` in [`client_columns!`]'s order: `INSERT` and
/// `UPDATE` say the same columns with the same numbers.
fn bind_client<'q>(
    sql: &'q str,
    c: &'q Client,
    cols: Columns,
) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>> {
    sqlx::query(sql)
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.owner.0)
        .bind(cols.secret)
        .bind(c.grant_type.as_str())
        .bind(cols.redirect_uris)
        .bind(cols.scopes)
        .bind(cols.filters)
        .bind(c.restricted)
        .bind(c.skip_authorization)
        .bind(c.lifetimes.jwt)
        .bind(c.lifetimes.opaque)
        .bind(c.lifetimes.refresh)
        .bind(c.created_at)
        .bind(cols.permissions)
        .bind(cols.django)
}

/// Inserts the client; a taken id or (owner, name) is a typed conflict.
pub(super) async fn insert_client(conn: &mut Conn, c: &Client) -> Result<(), StoreError> {
    let sql = concat!(
        "INSERT INTO clients (",
        client_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    bind_client(sql, c, Columns::of(c))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Writes what an import carries of the client: every field but its lifetimes and permissions
/// (set here, not upstream), and its secret only when `secret`. A client that became public
/// loses its permissions with its secret, as a public client cannot hold any.
pub(super) async fn update_imported_client(
    conn: &mut Conn,
    c: &Client,
    secret: bool,
) -> Result<(), StoreError> {
    let cols = Columns::of(c);
    let done = sqlx::query(
        "UPDATE clients SET name = $2, owner_id = $3, grant_type = $4, redirect_uris = $5, \
         scopes = $6, filters = $7, restricted = $8, skip_authorization = $9, \
         secret_hash = CASE WHEN $10 THEN $11 ELSE secret_hash END, \
         secret_django = CASE WHEN $10 THEN $12 ELSE secret_django END, \
         permissions = CASE WHEN $10 AND $11 IS NULL AND $12 IS NULL THEN '' ELSE permissions END \
         WHERE id = $1",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(c.owner.0)
    .bind(c.grant_type.as_str())
    .bind(cols.redirect_uris)
    .bind(cols.scopes)
    .bind(cols.filters)
    .bind(c.restricted)
    .bind(c.skip_authorization)
    .bind(secret)
    .bind(cols.secret)
    .bind(cols.django)
    .execute(conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("client {}", c.id)))
    }
}

impl SqlStore<Db> {
    async fn fetch_clients<'q>(
        &self,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> Result<Vec<Client>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(client).collect()
    }
}

#[async_trait]
impl ClientStore for SqlStore<Db> {
    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let c = c.clone();
        self.write(move |tx| Box::pin(async move { insert_client(tx, &c).await }))
            .await
    }

    async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        let c = c.clone();
        self.announcing(move |tx| {
            Box::pin(async move {
                let sql = "UPDATE clients SET name = $2, owner_id = $3, secret_hash = $4, \
                     grant_type = $5, redirect_uris = $6, scopes = $7, filters = $8, \
                     restricted = $9, skip_authorization = $10, jwt_lifetime = $11, \
                     opaque_lifetime = $12, refresh_lifetime = $13, created_at = $14, \
                     permissions = $15, secret_django = $16 WHERE id = $1";
                let done = bind_client(sql, &c, Columns::of(&c))
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 1 {
                    Ok(((), Some(Change::Client(c.id.clone()))))
                } else {
                    Err(StoreError::NotFound(format!("client {}", c.id)))
                }
            })
        })
        .await
    }

    async fn client_by_id(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let sql = concat!("SELECT ", client_columns!(), " FROM clients WHERE id = $1");
        Ok(self.fetch_clients(sqlx::query(sql).bind(id)).await?.pop())
    }

    async fn client_by_name(
        &self,
        owner: UserId,
        name: &str,
    ) -> Result<Option<Client>, StoreError> {
        let sql = concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE name = $1 AND owner_id = $2"
        );
        Ok(self
            .fetch_clients(sqlx::query(sql).bind(name).bind(owner.0))
            .await?
            .pop())
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY created_at, id"
        );
        self.fetch_clients(sqlx::query(sql)).await
    }

    async fn upgrade_client_secret(
        &self,
        id: &str,
        django: &str,
        keyed: &TokenHash,
    ) -> Result<bool, StoreError> {
        let (id, django, keyed) = (id.to_owned(), django.to_owned(), *keyed);
        self.announcing(move |tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE clients SET secret_hash = $3, secret_django = NULL \
                     WHERE id = $1 AND secret_django = $2",
                )
                .bind(&id)
                .bind(&django)
                .bind(keyed.as_bytes())
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                let upgraded = done.rows_affected() == 1;
                Ok((upgraded, upgraded.then_some(Change::Client(id))))
            })
        })
        .await
    }

    async fn max_client_jwt_lifetime(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT MAX(jwt_lifetime) FROM clients")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }
}
