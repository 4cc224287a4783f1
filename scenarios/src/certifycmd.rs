//! `meterlab certify`: the ESP certification kit (issue 16): the case catalogue, statements,
//! and the campaign against an ESP under test (`certify esp`).

use anyhow::Result;
use clap::Subcommand;
use scenarios::campaign::seal::{self, LabKey};
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
    /// Certify an ESP: start a platform of its own, onboard the ESP from its statement, run
    /// every case against it, judge it from what it did; a signed report.json, report.html and
    /// junit.xml in --out. Exit 0 certified, 1 a case failed, 2 a case could not be judged.
    #[command(after_help = ESP_HELP)]
    Esp(EspArgs),
    /// Check a report.json: the lab's signature, and that not one byte changed. Exit 0
    /// verified, 1 refused (with the reason).
    #[command(
        after_help = "Examples:\n  meterlab certify verify evidence/report.json                 # against this lab's key\n  meterlab certify verify report.json --public-key 3b6a27bc…   # a certifier with the lab's public key"
    )]
    Verify {
        /// The report.
        file: std::path::PathBuf,
        /// The lab's public key (64 hex digits, or a file holding them); default: this lab's
        /// own key in the data directory.
        #[arg(long, value_name = "HEX|FILE", env = "MLAB_CERTIFY_PUBLIC_KEY")]
        public_key: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// The lab's signing key: print its public half (making the key on first use), or
    /// export it for certifiers.
    #[command(
        after_help = "Examples:\n  meterlab certify key\n  meterlab certify key --export lab-public-key.txt"
    )]
    Key {
        /// Write the public key (hex) to this file too.
        #[arg(long, value_name = "FILE")]
        export: Option<std::path::PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// The certificates this lab issued, newest first.
    #[command(
        after_help = "Examples:\n  meterlab certify history\n  meterlab certify history --json"
    )]
    History {
        /// One JSON document.
        #[arg(long)]
        json: bool,
        /// The lab's database.
        #[arg(long, default_value = "sqlite:meterlab.db", env = "MLAB_DATABASE")]
        database: String,
    },
}

/// Where the lab keeps its signing key.
#[derive(clap::Args)]
pub(crate) struct DataDir {
    /// The lab's data directory (the signing key lives here); default
    /// $XDG_DATA_HOME/meterlab or ~/.local/share/meterlab.
    #[arg(long, value_name = "DIR", env = "MLAB_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
}

impl DataDir {
    fn path(&self) -> std::path::PathBuf {
        self.data_dir.clone().unwrap_or_else(scenarios::campaign::seal::default_data_dir)
    }
}

const ESP_HELP: &str = "Examples:\n  meterlab certify esp --reference                       # the kit against its own reference ESP\n  meterlab certify esp --statement esp.yaml --listen 127.0.0.1:8090\n  meterlab certify esp --statement esp.yaml --run './start-my-esp.sh' --out evidence/\n\nWithout --run, start your ESP once the kit prints the platform's URL, the token and the\nwebhook secret; the kit waits --esp-timeout for its first request. With --run the command\ngets them as MLAB_PLATFORM, MLAB_TOKEN, MLAB_WEBHOOK_SECRET and MLAB_KBO.";

#[derive(clap::Args)]
pub(crate) struct EspArgs {
    /// The ESP's statement (esp.yaml: name, KBO, webhook URL, services, claims, reaction time).
    #[arg(long, value_name = "FILE", required_unless_present = "reference")]
    statement: Option<std::path::PathBuf>,
    /// Certify the reference ESP, run in this process (its statement is built in).
    #[arg(long, conflicts_with_all = ["statement", "run"])]
    reference: bool,
    /// With --reference: make it break one rule (see `meterlab esp reference --help`).
    #[arg(long, value_name = "NAME", requires = "reference")]
    misbehave: Option<espref::Misbehaviour>,
    /// Where the kit's platform listens for the ESP.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// A shell command that starts the ESP under test once it is onboarded (stopped at the
    /// end); it gets MLAB_PLATFORM, MLAB_TOKEN, MLAB_WEBHOOK_SECRET and MLAB_KBO.
    #[arg(long, value_name = "CMD")]
    run: Option<String>,
    /// Where report.json (signed), report.html and junit.xml go.
    #[arg(long, default_value = "certification", value_name = "DIR")]
    out: std::path::PathBuf,
    /// How long to wait for the ESP's first request.
    #[arg(long, default_value = "60s", value_parser = parse_wait)]
    esp_timeout: std::time::Duration,
    /// Run only this case (repeatable): a partial campaign, to rerun what failed; it
    /// certifies nothing.
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    #[command(flatten)]
    data: DataDir,
    /// The lab's database, where issued certificates are kept (`certify history`).
    #[arg(long, default_value = "sqlite:meterlab.db", env = "MLAB_DATABASE")]
    database: String,
}

fn parse_wait(s: &str) -> std::result::Result<std::time::Duration, String> {
    let d = clock::parse_duration(s).map_err(|e| format!("{e}: use 60s or 2m"))?;
    std::time::Duration::try_from(d).map_err(|_| "give a positive duration".to_owned())
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
        CertifyCommand::Esp(args) => esp(args, out),
        CertifyCommand::Verify { file, public_key, data } => verify(&file, public_key, &data, out),
        CertifyCommand::Key { export, data } => {
            let dir = data.path();
            let (key, made) = LabKey::open_or_create(&dir)?;
            if made {
                eprintln!("made the lab's signing key: {}", key.path.display());
            }
            writeln!(out, "{}", key.public_hex())?;
            if let Some(f) = export {
                std::fs::write(&f, key.public_hex() + "\n")
                    .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        CertifyCommand::History { json, database } => history(&database, json, out),
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

fn esp(a: EspArgs, out: &mut impl Write) -> Result<ExitCode> {
    use anyhow::Context;
    let text = match &a.statement {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?,
        // The reference's endpoint address is known once it listens: pointed to below.
        None => scenarios::campaign::reference_statement("http://127.0.0.1:9/hooks"),
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("creating {} for the evidence", a.out.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(async {
        let opts = scenarios::campaign::Options {
            statement: text,
            listen: a.listen,
            esp_timeout: a.esp_timeout,
            only: a.only.clone(),
        };
        let mut campaign = scenarios::campaign::Campaign::start(opts).await?;
        let on = campaign.onboarding().clone();
        eprintln!("certification platform: {}", on.platform);
        eprintln!("  ESP {}: token {}", on.kbo, on.token);
        eprintln!("  webhook secret {}", on.webhook_secret);
        let mut _reference = None;
        if a.reference {
            let r = espref::Reference::start(espref::Config {
                platform: on.platform.clone(),
                token: on.token.clone(),
                webhook_secret: on.webhook_secret.clone(),
                webhook_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
                poll: std::time::Duration::from_millis(250),
                misbehave: a.misbehave,
            })
            .await?;
            if let Some(w) = r.webhook {
                campaign.webhooks_to(&format!("http://{w}/hooks")).await?;
            }
            _reference = Some(r);
        }
        let child = match &a.run {
            Some(cmd) => Some(
                tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .env("MLAB_PLATFORM", &on.platform)
                    .env("MLAB_TOKEN", &on.token)
                    .env("MLAB_WEBHOOK_SECRET", &on.webhook_secret)
                    .env("MLAB_KBO", &on.kbo)
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| format!("starting the ESP: {cmd}"))?,
            ),
            None => None,
        };
        // An ESP that exits early is said so at once: its cases then end inconclusive.
        let watcher = child.map(|mut c| {
            tokio::spawn(async move {
                match c.wait().await {
                    Ok(status) => eprintln!("the ESP under test (--run) exited: {status}"),
                    Err(e) => eprintln!("the ESP under test (--run) could not be watched: {e}"),
                }
            })
        });
        let total = if a.only.is_empty() { certify::catalogue().len() } else { a.only.len() };
        let mut n = 0;
        let report = campaign
            .run(|c| {
                n += 1;
                let first = c.evidence.first().map_or("", String::as_str);
                let first: String = first.chars().take(110).collect();
                eprintln!("[{n:>2}/{total}] {:<12} {:<15} {first}", c.id, c.verdict.as_str());
            })
            .await;
        // Aborting the watcher drops the child, which kills it (kill_on_drop).
        if let Some(w) = watcher {
            w.abort();
        }
        report
    })?;
    let mut report = report;
    let (key, made) = LabKey::open_or_create(&a.data.path())?;
    if made {
        eprintln!("made the lab's signing key: {}", key.path.display());
    }
    let text = key.seal(&mut report)?;
    std::fs::write(a.out.join("report.json"), &text)?;
    std::fs::write(a.out.join("report.html"), scenarios::campaign::html::render(&report))?;
    std::fs::write(a.out.join("junit.xml"), report.junit())?;
    let cert = scenarios::campaign::Certificate {
        campaign: report.campaign.clone(),
        esp: report.esp.clone(),
        outcome: report.outcome.clone(),
        catalogue: report.catalogue.clone(),
        started: report.started,
        statement_sha256: report.statement_sha256.clone(),
        report_sha256: wire::hex(&sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(text.as_bytes()),
        )),
        public_key: key.public_hex(),
        counts: report.counts.clone(),
    };
    rt.block_on(async {
        let db = ledgerdb::open(&a.database)
            .await
            .with_context(|| format!("opening the lab database {} for the history", a.database))?;
        ledgerdb::LedgerStore::put_record(
            &db,
            ledgerdb::Record::Certificates,
            &cert.campaign,
            &serde_json::to_string(&cert)?,
        )
        .await?;
        anyhow::Ok(())
    })?;
    eprintln!("signed with the lab's key {} (meterlab certify verify to check)", key.public_hex());
    let counts: Vec<String> = report.counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
    writeln!(
        out,
        "{} ({}): {} ({}); catalogue {}; evidence in {}",
        report.esp.name,
        report.esp.kbo,
        report.outcome,
        counts.join(", "),
        report.catalogue,
        a.out.display()
    )?;
    Ok(ExitCode::from(report.code()))
}

fn verify(
    file: &std::path::Path,
    public_key: Option<String>,
    data: &DataDir,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let hex = match public_key {
        // A file holding the key, or the key itself.
        Some(k) => std::fs::read_to_string(&k).unwrap_or(k),
        None => match LabKey::open(&data.path())? {
            Some(k) => k.public_hex(),
            None => anyhow::bail!(
                "this lab has no signing key in {}: give the signing lab's --public-key",
                data.path().display()
            ),
        },
    };
    let trusted = seal::public_key(&hex)?;
    match seal::verify(&text, &trusted) {
        Ok(r) => {
            writeln!(
                out,
                "verified: {} ({}) {} in campaign {}, catalogue {}, signed by {}",
                r.esp.name,
                r.esp.kbo,
                r.outcome,
                r.campaign,
                r.catalogue,
                hex.trim()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("refused: {}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn history(database: &str, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    use anyhow::Context;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rows = rt.block_on(async {
        let db = ledgerdb::open(database)
            .await
            .with_context(|| format!("opening the lab database {database}"))?;
        anyhow::Ok(ledgerdb::LedgerStore::records(&db, ledgerdb::Record::Certificates).await?)
    })?;
    let mut certs: Vec<scenarios::campaign::Certificate> = rows
        .iter()
        .map(|(id, body)| serde_json::from_str(body).with_context(|| format!("certificate {id}")))
        .collect::<Result<_>>()?;
    certs.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.campaign.cmp(&a.campaign)));
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&certs)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if certs.is_empty() {
        writeln!(out, "no certificates yet: meterlab certify esp --statement esp.yaml")?;
    }
    for c in certs {
        let counts: Vec<String> = c.counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
        writeln!(
            out,
            "{}  {:<10} {} ({})  catalogue {}  {}  report sha256 {}",
            c.started.strftime("%Y-%m-%d %H:%M"),
            c.outcome,
            c.esp.name,
            c.esp.kbo,
            c.catalogue,
            counts.join(", "),
            &c.report_sha256[..16.min(c.report_sha256.len())]
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
