//! `meterlab esp reference`: the reference ESP as a process of its own, against any platform
//! (the certification kit's, or `meterlab up`'s). `meterlab certify esp --run` starts it with
//! the credentials in its environment.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum EspCommand {
    /// Run the reference ESP: it reads what its mandates and consents allow, answers
    /// webhooks, and follows every rule the certification kit checks (or breaks one on
    /// purpose with --misbehave).
    #[command(after_help = REFERENCE_HELP)]
    Reference(ReferenceArgs),
}

const REFERENCE_HELP: &str = "Examples:\n  meterlab esp reference --platform http://127.0.0.1:8080 --token mle_… --webhook-secret whs_… --webhook-listen 127.0.0.1:18991\n  meterlab certify esp --statement esp.yaml --run 'meterlab esp reference --webhook-listen 127.0.0.1:18991'\n\nUnder `certify esp --run` the platform, token and secret come from MLAB_PLATFORM, MLAB_TOKEN and MLAB_WEBHOOK_SECRET.";

#[derive(Args)]
pub(crate) struct ReferenceArgs {
    /// The platform's base URL.
    #[arg(long, env = "MLAB_PLATFORM", value_name = "URL")]
    platform: String,
    /// The API token the platform issued the ESP.
    #[arg(long, env = "MLAB_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    token: String,
    /// The webhook signing secret the platform issued the ESP.
    #[arg(long, env = "MLAB_WEBHOOK_SECRET", value_name = "SECRET", hide_env_values = true)]
    webhook_secret: String,
    /// Where to listen for webhooks (the URL the platform has for the ESP must reach it).
    #[arg(long, value_name = "ADDR")]
    webhook_listen: Option<SocketAddr>,
    /// Time between polls, e.g. 250ms or 5s.
    #[arg(long, default_value = "250ms", value_parser = parse_poll)]
    poll: std::time::Duration,
    /// Break one rule on purpose: keeps-reading-after-revocation, reads-past-cut,
    /// ignores-retry-after, accepts-forged-webhooks, reads-another-esps-point, never-renews,
    /// reads-beyond-granularity, reads-beyond-service-needs.
    #[arg(long, value_name = "NAME")]
    misbehave: Option<espref::Misbehaviour>,
}

fn parse_poll(s: &str) -> Result<std::time::Duration, String> {
    let d = clock::parse_duration(s).map_err(|e| format!("{e}: use 250ms or 5s"))?;
    let d =
        std::time::Duration::try_from(d).map_err(|_| "a poll interval is positive".to_owned())?;
    if d.is_zero() {
        return Err("a poll interval is positive".into());
    }
    Ok(d)
}

pub(crate) fn run(cmd: EspCommand) -> Result<ExitCode> {
    let EspCommand::Reference(a) = cmd;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let r = espref::Reference::start(espref::Config {
            platform: a.platform.clone(),
            token: a.token,
            webhook_secret: a.webhook_secret,
            webhook_listen: a.webhook_listen,
            poll: a.poll,
            misbehave: a.misbehave,
        })
        .await
        .context("starting the reference ESP")?;
        let bad =
            a.misbehave.map(|m| format!(" (misbehaving: {})", m.as_str())).unwrap_or_default();
        match r.webhook {
            Some(w) => eprintln!("reference ESP{bad} on {}; webhooks at http://{w}/", a.platform),
            None => eprintln!("reference ESP{bad} on {}; no webhook endpoint", a.platform),
        }
        tokio::select! {
            () = r.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
