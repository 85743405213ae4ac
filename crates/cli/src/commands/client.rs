//! `latchkey client ...` (mirrors Open edX's `create_dot_application`).

use std::sync::Arc;

use clap::Subcommand;
use latchkey_core::admin::ClientSpec;
use latchkey_core::client::Client;
use latchkey_core::secret::Secret;
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_server::clock::now;

use crate::commands::list;
use crate::config::Config;
use crate::wiring;

#[derive(Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per run: boxing the flags would buy nothing"
)]
pub enum ClientCommand {
    /// Create a client (or with --update, change the one of that name and owner)
    Create {
        name: String,
        owner_username: String,
        /// password, client-credentials or authorization-code
        #[arg(long)]
        grant_type: String,
        /// A public client (mobile app, SPA) has no secret
        #[arg(long)]
        public: bool,
        #[arg(long)]
        client_id: Option<String>,
        /// Generated (256 bits) when not given; printed once
        #[arg(long)]
        client_secret: Option<String>,
        /// Space-separated absolute URIs
        #[arg(long)]
        redirect_uris: Option<String>,
        /// Scopes beyond the defaults the client may ask for, e.g. "grades:read,user_id"
        #[arg(long)]
        scopes: Option<String>,
        /// e.g. "content_org:MITx,user:me"
        #[arg(long)]
        filters: Option<String>,
        #[arg(long)]
        restricted: bool,
        #[arg(long)]
        skip_authorization: bool,
        /// Grant a permission: introspect, authz:read, authz:write, token:mint or revocations:read
        /// (repeatable, or comma-separated; confidential clients only). With --update, added to
        /// those it holds
        #[arg(long = "permission", value_name = "PERMISSION", value_delimiter = ',')]
        permissions: Vec<String>,
        /// With --update, take a permission away (repeatable, or comma-separated)
        #[arg(
            long = "revoke-permission",
            value_name = "PERMISSION",
            value_delimiter = ',',
            requires = "update"
        )]
        revoked_permissions: Vec<String>,
        /// Change the existing client of this name and owner; its secret and permissions are kept
        /// unless changed, everything else is set as given
        #[arg(long)]
        update: bool,
        #[arg(long)]
        json: bool,
    },
    /// List clients
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(serde::Serialize)]
struct ClientView<'a> {
    client_id: &'a str,
    name: &'a str,
    owner_id: i64,
    public: bool,
    grant_type: &'a str,
    redirect_uris: Vec<&'a str>,
    scopes: &'a [String],
    filters: &'a [String],
    restricted: bool,
    skip_authorization: bool,
    permissions: Vec<&'static str>,
}

fn view(c: &Client) -> ClientView<'_> {
    ClientView {
        client_id: &c.id,
        name: &c.name,
        owner_id: c.owner.0,
        public: c.is_public(),
        grant_type: c.grant_type.as_str(),
        redirect_uris: c.redirect_uris.iter().map(|u| u.as_str()).collect(),
        scopes: &c.scopes,
        filters: &c.filters,
        restricted: c.restricted,
        skip_authorization: c.skip_authorization,
        permissions: permissions(c),
    }
}

fn permissions(c: &Client) -> Vec<&'static str> {
    c.permissions().iter().map(|p| p.as_str()).collect()
}

pub async fn run<S: Store>(
    cmd: ClientCommand,
    config: &Config,
    store: Arc<S>,
) -> anyhow::Result<()> {
    let admin = wiring::build(config, store, Counting::InProcess)
        .await?
        .admin;
    match cmd {
        ClientCommand::Create {
            name,
            owner_username,
            grant_type,
            public,
            client_id,
            client_secret,
            redirect_uris,
            scopes,
            filters,
            restricted,
            skip_authorization,
            permissions: granted,
            revoked_permissions,
            update,
            json,
        } => {
            let spec = ClientSpec {
                name,
                owner: owner_username,
                grant_type,
                public,
                client_id,
                client_secret: client_secret.map(Secret::new),
                redirect_uris: redirect_uris
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                scopes: list(scopes.as_deref()),
                filters: list(filters.as_deref()),
                restricted,
                skip_authorization,
                permissions: granted,
                revoked_permissions,
                ..ClientSpec::default()
            };
            let saved = admin.save_client(spec, update, now()).await?;
            let secret = saved.secret.as_ref().map(Secret::expose);
            if json {
                let out = serde_json::json!({
                    "client_id": saved.client.id,
                    "client_secret": secret,
                    "permissions": permissions(&saved.client),
                });
                println!("{out}");
            } else {
                let verb = if update { "updated" } else { "created" };
                println!(
                    "{verb} client {:?}: client_id {}",
                    saved.client.name, saved.client.id
                );
                if let Some(s) = secret {
                    println!("client_secret {s}  (shown once; only its hash is stored)");
                }
                let held = permissions(&saved.client);
                if !held.is_empty() {
                    println!("permissions {}", held.join(", "));
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = admin.list_clients().await?;
            if json {
                let views: Vec<_> = clients.iter().map(view).collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                println!(
                    "{:<42} {:<24} {:<20} {:<13} PERMISSIONS",
                    "CLIENT ID", "NAME", "GRANT", "KIND"
                );
                for c in &clients {
                    let kind = if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    };
                    println!(
                        "{:<42} {:<24} {:<20} {kind:<13} {}",
                        c.id,
                        c.name,
                        c.grant_type.as_str(),
                        permissions(c).join(",")
                    );
                }
            }
        }
    }
    Ok(())
}
