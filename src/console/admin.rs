//! `hotline admin ...`: the catalog as a document, the audit trail as JSON
//! Lines, and signing a subject out everywhere, from the command line.

use std::path::PathBuf;

use super::Connection;
use crate::auth::Role;
use crate::error::Error;

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Write the catalog: every object as JSON Lines (SIP passwords left
    /// out), or the customer directory as CSV.
    Export {
        #[arg(long, value_enum, default_value = "json-lines")]
        format: crate::client::catalog::DocFormat,
        /// The file to write ("-" or none: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Create or replace every object of a file written by export (every
    /// line is checked first: one bad line and nothing is written).
    Import {
        file: PathBuf,
        /// Default: customers-csv for a .csv file, else json-lines.
        #[arg(long, value_enum)]
        format: Option<crate::client::catalog::DocFormat>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Write the audit trail as JSON Lines, newest first: everything, or
    /// what the filters name.
    Audit {
        /// Only this subject's events.
        #[arg(long, default_value = "")]
        actor: String,
        /// Only this action (e.g. recording-played, sessions-revoked).
        #[arg(long, default_value = "")]
        action: String,
        /// Only this target ("call:<id>", "customer:<id>"), or a kind ("call:").
        #[arg(long, default_value = "")]
        target: String,
        /// The file to write ("-" or none: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Write everything held about one customer (directory entry,
    /// contacts, callbacks, recordings' metadata, grades, survey ratings)
    /// as one JSON document: a data subject's access request.
    ExportCustomer {
        customer_id: String,
        /// The file to write ("-" or none: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Erase a customer: their recordings deleted, their number, id and
    /// notes blanked in every record (kept under a pseudonym for reports),
    /// their pending callbacks cancelled, their directory entry deleted.
    /// Cannot be undone.
    EraseCustomer {
        customer_id: String,
        /// The same id again.
        #[arg(long)]
        confirm: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Sign a subject (an agent's id for agents) out everywhere: their
    /// tokens from sign-ins before now are refused on every node within a
    /// second, and the agent is logged out.
    Revoke {
        subject: String,
        /// Why, for the audit.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        conn: Connection,
    },
}

fn write_out(out: Option<PathBuf>, bytes: &[u8]) -> Result<(), Error> {
    let failed = |what: String| move |e: std::io::Error| Error::Unavailable(format!("writing {what}: {e}"));
    match out {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::write(&path, bytes).map_err(failed(path.display().to_string()))
        }
        _ => std::io::Write::write_all(&mut std::io::stdout().lock(), bytes)
            .map_err(failed("standard output".into())),
    }
}

/// Carries out one admin command against the configured (or named) server.
pub async fn run(cmd: AdminCommand, config: &crate::config::Config) -> Result<(), Error> {
    match cmd {
        AdminCommand::Export { format, out, conn } => {
            let mut c = conn.clients_as(config, Role::Admin).await?;
            let document = crate::client::catalog::export(&mut c, format).await?;
            write_out(out, &document)
        }
        AdminCommand::Import { file, format, conn } => {
            let document = std::fs::read(&file)
                .map_err(|e| Error::Unavailable(format!("reading {}: {e}", file.display())))?;
            let format = format.unwrap_or_else(|| crate::client::catalog::DocFormat::of(&file));
            let mut c = conn.clients_as(config, Role::Admin).await?;
            let s = crate::client::catalog::import(&mut c, format, document).await?;
            println!(
                "{} objects: {} created, {} updated, {} unchanged",
                s.objects, s.created, s.updated, s.unchanged
            );
            Ok(())
        }
        AdminCommand::Audit {
            actor,
            action,
            target,
            out,
            conn,
        } => {
            let mut c = conn.clients_as(config, Role::Supervisor).await?;
            let filter = crate::proto::ListAuditEventsRequest {
                actor,
                action,
                target,
                ..Default::default()
            };
            let (lines, count) = crate::client::audit::export(&mut c, filter).await?;
            let to_file = out.as_ref().is_some_and(|p| p.as_os_str() != "-");
            let shown = out.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            write_out(out, &lines)?;
            if to_file {
                eprintln!("{count} events written to {shown}");
            }
            Ok(())
        }
        AdminCommand::ExportCustomer {
            customer_id,
            out,
            conn,
        } => {
            let mut c = conn.clients_as(config, Role::Admin).await?;
            let data = c
                .privacy
                .export_customer_data(crate::proto::ExportCustomerDataRequest { customer_id })
                .await
                .map_err(|s| crate::status::from_remote(&s))?
                .into_inner();
            write_out(out, &data.json)
        }
        AdminCommand::EraseCustomer {
            customer_id,
            confirm,
            conn,
        } => {
            let mut c = conn.clients_as(config, Role::Admin).await?;
            let done = c
                .privacy
                .erase_customer_data(crate::proto::EraseCustomerDataRequest {
                    customer_id,
                    confirm_customer_id: confirm,
                })
                .await
                .map_err(|s| crate::status::from_remote(&s))?
                .into_inner();
            println!(
                "erased customer {}: {} contacts, {} calls, {} callbacks ({} cancelled), {} recordings deleted",
                done.customer_id, done.contacts, done.calls, done.callbacks, done.callbacks_cancelled, done.recordings
            );
            Ok(())
        }
        AdminCommand::Revoke {
            subject,
            reason,
            conn,
        } => {
            let mut c = conn.clients_as(config, Role::Admin).await?;
            let r = c
                .session
                .revoke_sessions(crate::proto::RevokeSessionsRequest {
                    subject: subject.clone(),
                    reason,
                })
                .await
                .map_err(|s| crate::status::from_remote(&s))?
                .into_inner();
            println!(
                "sessions of {subject} revoked at {} ms{}",
                r.revoked_at_unix_ms,
                if r.agent_logged_out {
                    "; the agent is logged out"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}
