//! `meterlab certify`: the ESP certification kit (issue 16). Its case catalogue is listed
//! here; the campaign against an ESP under test builds on it.

use anyhow::Result;
use clap::Subcommand;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum CertifyCommand {
    /// The versioned case catalogue: ids, the requirements each case checks, what it needs
    /// from the ESP's statement.
    #[command(
        after_help = "Examples:\n  meterlab certify list\n  meterlab certify list --json | jq '.cases[] | select(.requirements | index(\"R-MAN-5\"))'"
    )]
    List {
        /// One JSON document: the catalogue's version and every case with its events and
        /// pass criterion.
        #[arg(long)]
        json: bool,
    },
    /// Check an ESP's statement (esp.yaml) and say which cases it makes applicable.
    #[command(after_help = "Example:\n  meterlab certify statement esp.yaml")]
    Statement {
        /// The statement file.
        file: std::path::PathBuf,
    },
}

pub(crate) fn run(cmd: CertifyCommand) -> Result<ExitCode> {
    match run_to(cmd, &mut std::io::stdout().lock()) {
        // The reader went away (`meterlab certify list | head`): end quietly, as `cat` does.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        res => res,
    }
}

fn run_to(cmd: CertifyCommand, out: &mut impl Write) -> Result<ExitCode> {
    match cmd {
        CertifyCommand::List { json } => {
            let cases = certify::catalogue();
            if json {
                let doc = serde_json::json!({
                    "catalogue": certify::CATALOGUE_VERSION,
                    "cases": cases,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(out, "catalogue {} ({} cases)", certify::CATALOGUE_VERSION, cases.len())?;
            for c in cases {
                let needs: Vec<&str> = c.needs.iter().map(|n| n.as_str()).collect();
                let needs = if needs.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", needs.join(", "))
                };
                writeln!(out, "{:<12} {:<26} {}{needs}", c.id, c.requirements.join(" "), c.title)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        CertifyCommand::Statement { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let s = certify::Statement::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let (yes, no): (Vec<&certify::Case>, Vec<&certify::Case>) =
                certify::catalogue().iter().partition(|c| certify::applicable(c, &s));
            println!(
                "{} ({}): {} cases apply, {} not-applicable",
                s.name,
                s.kbo,
                yes.len(),
                no.len()
            );
            for c in no {
                let missing: Vec<&str> =
                    c.needs.iter().filter(|n| !s.claims.contains(n)).map(|n| n.as_str()).collect();
                writeln!(out, "  {:<12} not-applicable: no {} claim", c.id, missing.join(", "))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
