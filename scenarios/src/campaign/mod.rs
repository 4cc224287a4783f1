//! The certification campaign (`meterlab certify esp`, issue 16): the kit starts a platform
//! of its own (embedded store, fresh fixed data, a simulated clock that runs at wall speed
//! and that the kit jumps for the calendar cases), onboards the ESP under test from its
//! statement, and runs the catalogue's cases one after the other. Each case plays the
//! counterpart (a grid user granting, refusing or ending a mandate through the step plan, the
//! market, the platform's operator) and judges the ESP from the platform's own records of
//! what it did: the requests it sent and their answers ([`evidence::Journal`]), the access
//! register, and its answers to webhooks.
//!
//! Every wait is bounded: an ESP that does nothing is `inconclusive`, never `passed`.

mod cases;
mod evidence;
pub mod html;
pub mod report;
pub mod seal;

pub use report::{CaseResult, Certificate, Report};

use crate::access::AccessClient;
use anyhow::{Context, Result};
use certify::{Statement, Verdict};
use clock::{Clock, SimClock, SystemClock};
use clock::{SignedDuration, Timestamp};
use domain::Ean;
use evidence::Journal;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use wire::api::v1 as w;

/// Where the lab's calendar starts: a Monday morning in Brussels, the same in every campaign.
pub const START: &str = "2026-03-02T08:00:00Z";

/// How to run a campaign.
#[derive(Debug, Clone)]
pub struct Options {
    /// The statement's text (YAML).
    pub statement: String,
    /// Where the kit's platform listens for the ESP.
    pub listen: SocketAddr,
    /// How long to wait for the ESP's first request.
    pub esp_timeout: Duration,
    /// Only these cases (all when empty): a partial campaign, to rerun what failed; its report
    /// says so and certifies nothing.
    pub only: Vec<String>,
}

/// What the ESP under test must use: printed at start, handed to `--run` and `--reference`.
#[derive(Debug, Clone)]
pub struct Onboarding {
    /// The platform's base URL.
    pub platform: String,
    /// The ESP's enterprise number.
    pub kbo: String,
    /// Its API token.
    pub token: String,
    /// Its webhook signing secret.
    pub webhook_secret: String,
}

/// A campaign: the kit's platform with the ESP onboarded, ready to run.
pub struct Campaign {
    kit: Kit,
    statement_text: String,
    only: Vec<String>,
}

/// The name the kit's access client knows the ESP under test by.
const ESP: &str = "esp";

/// The kit: its platform, clock and records, and what it knows of the ESP.
pub(crate) struct Kit {
    app: server::App,
    clock: Arc<SimClock>,
    api: AccessClient,
    journal: Journal,
    onboarding: Onboarding,
    statement: Statement,
    /// The ESP's stated reaction time, in real time (the clock runs at wall speed between
    /// jumps).
    reaction: Duration,
    /// The longest the kit waits for the ESP to do what a case needs.
    patience: Duration,
    esp_timeout: Duration,
    /// The client the kit sends its own webhooks with (a forged one, a replay).
    hooks: reqwest::Client,
    points: u64,
    /// Every data service point the ESP was given a mandate or consent on.
    held: BTreeSet<String>,
    /// The outage ESP-SLA-01 declared: its point and its span.
    outage: Option<(Ean, Timestamp, Timestamp)>,
    /// The clock's jumps: from, to.
    jumps: Vec<(Timestamp, Timestamp)>,
    /// When ESP-SLA-02 rate limited the ESP: its 429s then are the case's, not a flood.
    limited: Option<(Timestamp, Timestamp)>,
}

/// A case's judgement: the verdict and the evidence it rests on.
pub(crate) struct Judged {
    verdict: Verdict,
    evidence: Vec<String>,
}

/// A point the kit registered for a case, with its grid user.
pub(crate) struct CasePoint {
    name: String,
    dsp: Ean,
    grid_user: String,
}

impl Campaign {
    /// Starts the kit's platform and onboards the ESP its statement describes.
    pub async fn start(opts: Options) -> Result<Campaign> {
        let statement = Statement::parse(&opts.statement)?;
        let reaction = statement
            .reaction()
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .context("max_reaction")?;
        let start: Timestamp = START.parse()?;
        let clock = Arc::new(SimClock::accelerated(start, 1.0)?);
        let admin = format!("kit-admin-{}", wire::hex(&rand::random::<[u8; 12]>()));
        let config = server::Config {
            listen: opts.listen,
            database: "sqlite::memory:".into(),
            mqtt: server::BrokerSpec::None,
            admin_token: admin.clone(),
            webhooks: server::RetryPolicy {
                attempts: 4,
                first_backoff: Duration::from_secs(1),
                timeout: reaction + Duration::from_secs(1),
            },
            ..server::Config::default()
        };
        let app = server::App::start_with_clock(config, clock.clone())
            .await
            .context("starting the kit's platform")?;
        let mut api = AccessClient::new(&app.url(), &admin);
        let esp = domain::Esp {
            kbo: statement.kbo.clone(),
            gln: None,
            name: statement.name.clone(),
            channel: domain::Channel::Api,
            status: domain::ContractStatus::Active,
            webhook_url: statement.webhook_url.clone(),
            services: statement.services.clone(),
        };
        let journal =
            Journal::start(app.access.exchanges(), format!("esp:{}", statement.kbo.as_str()));
        let on = api.onboard(ESP, esp).await.context("onboarding the ESP")?;
        let onboarding = Onboarding {
            platform: app.url(),
            kbo: statement.kbo.as_str().to_owned(),
            token: on.token,
            webhook_secret: on.webhook_secret,
        };
        let hooks = reqwest::Client::builder()
            .timeout(reaction + Duration::from_secs(1))
            .build()
            .context("an HTTP client for webhooks")?;
        let kit = Kit {
            app,
            clock,
            api,
            journal,
            onboarding,
            statement,
            reaction,
            patience: (reaction * 3).max(Duration::from_secs(10)),
            esp_timeout: opts.esp_timeout,
            hooks,
            points: 0,
            held: BTreeSet::new(),
            outage: None,
            jumps: Vec::new(),
            limited: None,
        };
        for id in &opts.only {
            anyhow::ensure!(
                certify::catalogue().iter().any(|c| c.id == id),
                "{id} is no case of the catalogue (`meterlab certify list`)"
            );
        }
        Ok(Campaign { kit, statement_text: opts.statement, only: opts.only })
    }

    /// What the ESP must use.
    pub fn onboarding(&self) -> &Onboarding {
        &self.kit.onboarding
    }

    /// Sends the ESP's webhooks to `url` from now on (for an ESP whose endpoint's address is
    /// known only once it listens, as the in-process reference's).
    pub async fn webhooks_to(&mut self, url: &str) -> Result<()> {
        let path = format!("/api/admin/v1/esps/{}", self.kit.onboarding.kbo);
        let a = self
            .kit
            .api
            .admin(reqwest::Method::PATCH, &path, &serde_json::json!({ "webhook_url": url }))
            .await?;
        anyhow::ensure!(a.status == 200, "pointing webhooks to {url}: {} {}", a.status, a.body);
        self.kit.statement.webhook_url = Some(url.to_owned());
        Ok(())
    }

    /// Runs every case, telling `progress` of each as it ends; the report.
    pub async fn run(mut self, mut progress: impl FnMut(&CaseResult)) -> Result<Report> {
        let started = SystemClock.now();
        let mut results = Vec::new();
        for &id in cases::ORDER {
            if !self.only.is_empty() && !self.only.iter().any(|o| o == id) {
                continue;
            }
            let case = certify::catalogue()
                .iter()
                .find(|c| c.id == id)
                .with_context(|| format!("{id} is not in the catalogue"))?;
            let from = self.kit.clock.now();
            let judged = if certify::applicable(case, &self.kit.statement) {
                match cases::run(&mut self.kit, id).await {
                    Ok(j) => j,
                    Err(e) => Judged {
                        verdict: Verdict::Inconclusive,
                        evidence: vec![format!("the lab could not run the case: {e:#}")],
                    },
                }
            } else {
                let missing: Vec<&str> = case
                    .needs
                    .iter()
                    .filter(|n| !self.kit.statement.claims.contains(n))
                    .map(|n| n.as_str())
                    .collect();
                Judged {
                    verdict: Verdict::NotApplicable,
                    evidence: vec![format!("the statement makes no {} claim", missing.join(", "))],
                }
            };
            let r = CaseResult {
                id: case.id.to_owned(),
                title: case.title.to_owned(),
                requirements: case.requirements.iter().map(|s| (*s).to_owned()).collect(),
                verdict: judged.verdict,
                started: from,
                finished: self.kit.clock.now(),
                evidence: judged.evidence,
            };
            progress(&r);
            results.push(r);
        }
        if self.kit.journal.lost() > 0 {
            tracing::warn!("the kit lost {} of the ESP's exchanges", self.kit.journal.lost());
        }
        // The report lists the cases in the catalogue's order, whatever order they ran in.
        let order: Vec<&str> = certify::catalogue().iter().map(|c| c.id).collect();
        results.sort_by_key(|r| order.iter().position(|id| *id == r.id));
        let finished = SystemClock.now();
        let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
            self.statement_text.as_bytes(),
        ));
        Ok(Report {
            campaign: format!(
                "{}-{}",
                started.strftime("%Y%m%dT%H%M%SZ"),
                wire::hex(&rand::random::<[u8; 4]>())
            ),
            catalogue: certify::CATALOGUE_VERSION.to_owned(),
            meterlab: env!("CARGO_PKG_VERSION").to_owned(),
            statement_sha256: wire::hex(&digest),
            esp: report::EspIdentity {
                name: self.kit.statement.name.clone(),
                kbo: self.kit.onboarding.kbo.clone(),
            },
            started,
            finished,
            outcome: if self.only.is_empty() {
                Report::outcome_of(&results).to_owned()
            } else {
                "partial".to_owned()
            },
            only: self.only,
            counts: Report::count(&results),
            cases: results,
            signature: None,
        })
    }
}

impl Kit {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn party(&self) -> String {
        format!("esp:{}", self.onboarding.kbo)
    }

    /// A fresh access point with one electricity data service point, occupied by its own
    /// grid user for the last 400 days.
    async fn point(&mut self) -> Result<CasePoint> {
        self.points += 1;
        let n = self.points;
        let (name, grid_user) = (format!("P{n}"), format!("G{n}"));
        let since = self.now() - SignedDuration::from_hours(24 * 400);
        let p = self
            .api
            .add_point(
                &name,
                100 + n,
                &format!("kit-d{n}"),
                &format!("kit-m{n}"),
                &grid_user,
                since,
            )
            .await?;
        Ok(CasePoint { name, dsp: p.dsp, grid_user })
    }

    /// A point whose grid user grants the ESP a mandate through its step plan and approves it;
    /// the mandate's id.
    async fn mandated(&mut self, scope: w::Scope, history: bool) -> Result<(CasePoint, String)> {
        let p = self.point().await?;
        let from = self.now() - SignedDuration::from_hours(24 * 30);
        let id = self
            .api
            .request_mandate(&p.grid_user, ESP, &p.name, scope, history, from, None)
            .await?;
        let a = self.api.approve(&p.grid_user, &id).await?;
        anyhow::ensure!(a.status == 200, "approving {id}: {} {}", a.status, a.body);
        self.held.insert(p.dsp.to_string());
        Ok((p, id))
    }

    /// The access register's entries of the ESP on a point, oldest first.
    async fn entries(&self, dsp: &Ean) -> Result<Vec<w::AccessEntry>> {
        let party = self.party();
        let all = self.app.in_process().access_log().await?;
        Ok(all.into_iter().filter(|e| e.party == party && e.point == dsp.as_str()).collect())
    }

    /// Every access-register entry of the ESP.
    async fn all_entries(&self) -> Result<Vec<w::AccessEntry>> {
        let party = self.party();
        Ok(self
            .app
            .in_process()
            .access_log()
            .await?
            .into_iter()
            .filter(|e| e.party == party)
            .collect())
    }

    /// Waits (at most the kit's patience) until the ESP is served `what` of the point after
    /// `t`; the entry.
    async fn served(&self, dsp: &Ean, what: &str, t: Timestamp) -> Result<Option<w::AccessEntry>> {
        self.until(self.patience, || async move {
            Ok(evidence::first_served(&self.entries(dsp).await?, what, t).cloned())
        })
        .await
    }

    /// Waits until an exchange of the ESP after `t` satisfies `f` (at most `limit`).
    async fn exchange(
        &self,
        t: Timestamp,
        limit: Duration,
        f: impl Fn(&server::Exchange) -> bool,
    ) -> Option<server::Exchange> {
        let found =
            self.until(limit, || async { Ok(self.journal.since(t).into_iter().find(|x| f(x))) });
        found.await.ok().flatten()
    }

    /// Asks `look` every 100 ms until it finds something or `limit` (real time) has passed:
    /// every wait of the kit is bounded.
    async fn until<T, F>(&self, limit: Duration, look: impl Fn() -> F) -> Result<Option<T>>
    where
        F: std::future::Future<Output = Result<Option<T>>>,
    {
        let watch = clock::Stopwatch::start();
        loop {
            if let Some(found) = look().await? {
                return Ok(Some(found));
            }
            if watch.passed(limit) {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lets the ESP react: its stated reaction time and a little more.
    async fn settle(&self) {
        tokio::time::sleep(self.reaction + Duration::from_millis(750)).await;
    }

    /// Jumps the clock forward to `to`, and remembers the jump.
    fn jump_to(&mut self, to: Timestamp) -> Result<()> {
        let from = self.now();
        self.clock.set(to)?;
        self.jumps.push((from, to));
        Ok(())
    }

    /// How much of `[from, to)` the kit jumped over.
    fn jumped(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        self.jumps
            .iter()
            .filter(|(a, b)| *a >= from && *b <= to)
            .map(|(a, b)| b.duration_since(*a))
            .sum()
    }

    /// The stated reaction time on the platform's clock.
    fn reaction_span(&self) -> SignedDuration {
        SignedDuration::try_from(self.reaction).unwrap_or(SignedDuration::ZERO)
    }
}

/// The statement of the reference ESP (`meterlab certify esp --reference`, and
/// `docs/certification.md`'s example): every claim, a reaction time of two seconds, a service
/// reading meter data and one reading the NRT stream.
pub fn reference_statement(webhook_url: &str) -> String {
    format!(
        "name: meterlab reference ESP\n\
         kbo: \"{}\"\n\
         webhook_url: {webhook_url}\n\
         services:\n\
         \x20 - id: insights\n\
         \x20   name: Energy insights\n\
         \x20   needs: [day, quarter-hour]\n\
         \x20 - id: live\n\
         \x20   name: Live power\n\
         \x20   needs: [nrt]\n\
         claims: [day-data, quarter-hour-data, nrt-stream, webhooks, market-events, renewal]\n\
         max_reaction: 2s\n",
        crate::access::kbo(77).map(|k| k.to_string()).unwrap_or_default()
    )
}
