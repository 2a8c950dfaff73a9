//! `openrails-checkout users create|list|disable|reset-password`: the dashboard's people from
//! the command line, on the server's database. Every change is written to the audit log with
//! `cli` as its actor.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::resolve_merchant;
use crate::config::Settings;
use crate::db::Db;
use crate::db::accounts::{delete_user_sessions, get_user_by_email, list_users, set_disabled};
use crate::domain::account::Role;
use crate::domain::ids::random_token;
use crate::domain::time::{iso_seconds, now_ms};
use crate::lifecycle::accounts::{
    AddUserError, add_user, audit, create_setup_link, reset_password,
};

#[derive(Subcommand)]
pub enum UsersAction {
    /// Add a person: with an e-mail and --password-stdin, the account at once; without an
    /// e-mail, a one-time link (24 hours) where they choose their own.
    Create {
        /// Their e-mail, how they sign in.
        email: Option<String>,
        /// owner, developer or viewer.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The merchant (default: the first one).
        #[arg(long)]
        merchant: Option<String>,
    },
    /// List the people of a merchant.
    List {
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Disable a person: they cannot sign in, and their sessions end.
    Disable { email: String },
    /// Set a new password (from standard input, or a generated one printed once); ends all
    /// their sessions.
    ResetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn run(settings: Settings, action: UsersAction) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2).await?;
    db.migrate().await?;
    match action {
        UsersAction::Create {
            email,
            role,
            password_stdin,
            merchant,
        } => {
            let role = Role::parse(&role).context("--role must be owner, developer or viewer")?;
            let merchant = resolve_merchant(&db, &settings, merchant).await?;
            let Some(email) = email else {
                let token = create_setup_link(&db, &merchant, role).await?;
                audit(
                    &db,
                    &merchant,
                    None,
                    "cli",
                    "user.invite",
                    None,
                    Some(&format!("setup link for role {role}")),
                )
                .await?;
                let base = settings.public_url_for(&settings.bind);
                println!(
                    "A one-time link that creates a {role} account (works once, for 24 hours):\n\n    {base}/dashboard/setup/{token}\n"
                );
                return Ok(());
            };
            if !password_stdin {
                bail!(
                    "with an e-mail, give the password on standard input (--password-stdin); or leave the e-mail out for a setup link"
                );
            }
            let password = read_password()?;
            match add_user(&db, &merchant, &email, &password, role).await? {
                Ok(user) => {
                    audit(
                        &db,
                        &merchant,
                        None,
                        "cli",
                        "user.create",
                        Some(user.id.as_str()),
                        Some(&format!("{} as {role}", user.email)),
                    )
                    .await?;
                    println!("{}  {}  {}", user.id, user.email, user.role);
                }
                Err(AddUserError::Email(why)) => bail!("the e-mail {why}"),
                Err(AddUserError::Password(why)) => bail!("the password {why}"),
                Err(AddUserError::Taken) => bail!("{email} has an account already"),
            }
        }
        UsersAction::List { merchant } => {
            let merchant = resolve_merchant(&db, &settings, merchant).await?;
            let users = list_users(&db.read, &merchant).await?;
            if users.is_empty() {
                println!("no users (create one: openrails-checkout users create --role owner)");
            }
            for u in users {
                println!(
                    "{}  {}  {}  {}  created {}",
                    u.id,
                    u.email,
                    u.role,
                    if u.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "active"
                    },
                    iso_seconds(u.created_at)
                );
            }
        }
        UsersAction::Disable { email } => {
            let user = get_user_by_email(&db.read, &email.trim().to_lowercase())
                .await?
                .with_context(|| format!("no user {email}"))?;
            set_disabled(&db.write, &user.id, Some(now_ms()), now_ms()).await?;
            let ended = delete_user_sessions(&db.write, &user.id).await?;
            audit(
                &db,
                &user.merchant_id,
                None,
                "cli",
                "user.disable",
                Some(user.id.as_str()),
                Some(&user.email),
            )
            .await?;
            println!("{} disabled; {ended} session(s) ended", user.email);
        }
        UsersAction::ResetPassword {
            email,
            password_stdin,
        } => {
            let user = get_user_by_email(&db.read, &email.trim().to_lowercase())
                .await?
                .with_context(|| format!("no user {email}"))?;
            let (password, generated) = if password_stdin {
                (read_password()?, false)
            } else {
                (random_token(20)?, true)
            };
            if let Err(why) = reset_password(&db, &user, &password, "cli").await? {
                bail!("the password {why}");
            }
            if generated {
                println!(
                    "New password for {} (shown only this once):\n\n    {password}\n",
                    user.email
                );
            } else {
                println!("password of {} set", user.email);
            }
            println!("Every session of {} has ended.", user.email);
        }
    }
    Ok(())
}
