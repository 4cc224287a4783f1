//! The lab's side of data access: a client of the platform's registers, admin and ESP APIs
//! over HTTP (so scenarios exercise the real API, tokens included), the ESPs' own webhook
//! endpoints (a small HTTP server each, [`WebhookSink`]), and the provisioning `meterlab up` and the suites
//! share: an access point and data service point per meter, linked to its dongle.

use anyhow::{Context, Result, anyhow, bail};
use clock::Timestamp;
use domain::{Ean, GridUserId, Kbo, SupplierId};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wire::api::v1 as w;

/// An answer: status and JSON body (`null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: serde_json::Value,
}

impl Answer {
    /// The stable error code of a refusal.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A webhook an ESP received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Meterlab-Event`.
    pub event: String,
    /// `X-Meterlab-Signature`.
    pub signature: String,
    /// The body.
    pub body: String,
}

/// A simulated ESP: its KBO, API token, webhook secret and what its endpoint received.
pub struct Esp {
    /// The enterprise number.
    pub kbo: Kbo,
    /// Its API token.
    pub token: String,
    /// Its webhook signing secret.
    pub secret: String,
    /// Webhooks received, in order.
    pub received: Arc<Mutex<Vec<Received>>>,
    _endpoint: Option<WebhookSink>,
}

/// An ESP's webhook endpoint: a real HTTP listener on a loopback port that records every
/// `POST /hooks` (event, signature, body) and answers 200. It stops when dropped.
pub struct WebhookSink {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookSink {
    /// Listens on 127.0.0.1 (a free port); returns the sink and its URL.
    pub async fn start(received: Arc<Mutex<Vec<Received>>>) -> Result<(WebhookSink, String)> {
        use axum::http::HeaderMap;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("a loopback port for an ESP's webhook endpoint")?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let received = received.clone();
                async move {
                    let h = |n: &str| {
                        headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
                    };
                    let r = Received {
                        event: h("x-meterlab-event"),
                        signature: h("x-meterlab-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    match received.lock() {
                        Ok(mut log) => {
                            log.push(r);
                            axum::http::StatusCode::OK
                        }
                        // A poisoned log cannot record it: say so, so the platform retries.
                        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("an ESP's webhook endpoint stopped: {e}");
            }
        });
        Ok((WebhookSink { task }, url))
    }
}

/// The points of a meter.
#[derive(Debug, Clone)]
pub struct Point {
    /// The access point.
    pub access_point: Ean,
    /// Its (single) electricity data service point.
    pub dsp: Ean,
    /// The dongle that feeds it.
    pub dongle: String,
}

/// A client of one platform.
pub struct AccessClient {
    api: String,
    admin: String,
    http: reqwest::Client,
    tokens: BTreeMap<String, String>,
    /// ESPs by name.
    pub esps: BTreeMap<String, Esp>,
    /// Points by name (a variant or meter name).
    pub points: BTreeMap<String, Point>,
}

/// The body of a command that takes none.
#[derive(Serialize)]
struct NoBody {}

/// An answer body read as the platform's contract says it is.
fn typed<R: DeserializeOwned>(body: serde_json::Value, what: &str) -> Result<R> {
    serde_json::from_value(body.clone()).with_context(|| {
        format!("the platform's answer to {what} is not what its contract says: {body}")
    })
}

/// A deterministic EAN for the `n`th point (`5414489…`, a Belgian GS1 prefix).
pub fn ean(n: u64) -> Result<Ean> {
    Ean::with_check_digit(&format!("5414489{:010}", n % 10_000_000_000)).map_err(|e| anyhow!("{e}"))
}

/// A deterministic KBO number for the `n`th ESP.
pub fn kbo(n: u64) -> Result<Kbo> {
    Kbo::with_check(&format!("0{:07}", (n * 7_654_321 + 1_234_567) % 10_000_000))
        .map_err(|e| anyhow!("{e}"))
}

impl AccessClient {
    /// A client of the platform at `api` acting with the admin token.
    pub fn new(api: &str, admin_token: &str) -> AccessClient {
        AccessClient {
            api: api.trim_end_matches('/').to_owned(),
            admin: admin_token.to_owned(),
            http: reqwest::Client::new(),
            tokens: BTreeMap::new(),
            esps: BTreeMap::new(),
            points: BTreeMap::new(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Answer> {
        let r = req.send().await.with_context(|| what.to_owned())?;
        let status = r.status().as_u16();
        let text = r.text().await.with_context(|| format!("reading {what}"))?;
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }

    async fn get(&self, path: &str, token: &str) -> Result<Answer> {
        let url = format!("{}{path}", self.api);
        self.send(self.http.get(&url).bearer_auth(token), &format!("GET {url}")).await
    }

    /// `POST path` with a body of the platform's contract (`&NoBody` for a command without
    /// one).
    async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        token: &str,
        body: &B,
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.api);
        self.send(self.http.post(&url).bearer_auth(token).json(body), &format!("POST {url}")).await
    }

    async fn admin_ok<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R> {
        let a = self.post(path, &self.admin, body).await?;
        if a.status >= 300 {
            bail!("POST {path}: {} {}", a.status, a.body);
        }
        typed(a.body, path)
    }

    /// The token of a grid user (issued on first use).
    pub async fn grid_user_token(&mut self, id: &str) -> Result<String> {
        if let Some(t) = self.tokens.get(id) {
            return Ok(t.clone());
        }
        let body = w::NewToken {
            party: w::Party::GridUser(GridUserId(id.to_owned())),
            label: id.to_owned(),
        };
        let issued: w::TokenIssued = self.admin_ok("/api/admin/v1/tokens", &body).await?;
        self.tokens.insert(id.to_owned(), issued.token.clone());
        Ok(issued.token)
    }

    /// Registers an access point with one electricity data service point for a meter, its
    /// grid user since `since`, and links the dongle to it (R-NRT-10).
    pub async fn add_point(
        &mut self,
        name: &str,
        n: u64,
        dongle: &str,
        meter: &str,
        grid_user: &str,
        since: Timestamp,
    ) -> Result<Point> {
        let (ap, dsp) = (ean(2 * n + 1)?, ean(2 * n + 2)?);
        let electricity = domain::Commodity::Electricity;
        let point = w::NewPoint {
            access_point: domain::AccessPoint {
                ean: ap.clone(),
                commodity: electricity,
                address: format!("Lab rig, {name}"),
                data_service_points: vec![dsp.clone()],
            },
            data_service_points: vec![domain::DataServicePoint {
                id: dsp.clone(),
                access_point: ap.clone(),
                commodity: electricity,
                meter: meter.to_owned(),
            }],
            grid_user: Some(GridUserId(grid_user.to_owned())),
            supplier: Some(SupplierId("supplier-1".to_owned())),
            since,
        };
        let _: IgnoredAny = self.admin_ok("/api/admin/v1/access-points", &point).await?;
        let link = w::NewLink {
            link: domain::DongleLink {
                dongle: dongle.to_owned(),
                meter: meter.to_owned(),
                data_service_point: dsp.clone(),
                since,
            },
        };
        let _: IgnoredAny = self.admin_ok("/api/admin/v1/links", &link).await?;
        let p = Point { access_point: ap, dsp, dongle: dongle.to_owned() };
        self.points.insert(name.to_owned(), p.clone());
        Ok(p)
    }

    /// Onboards an ESP with a service `live` (NRT) and, when `webhooks`, an endpoint of its
    /// own that records every delivery.
    pub async fn add_esp(&mut self, name: &str, n: u64, webhooks: bool) -> Result<&Esp> {
        let kbo = kbo(n)?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let (endpoint, url) = if webhooks {
            let (sink, url) = WebhookSink::start(received.clone()).await?;
            (Some(sink), Some(url))
        } else {
            (None, None)
        };
        let body = w::NewEsp {
            esp: domain::Esp {
                kbo: kbo.clone(),
                gln: None,
                name: name.to_owned(),
                channel: domain::Channel::Api,
                status: domain::ContractStatus::Active,
                webhook_url: url,
                // A live service under consents, and one reading the meter data mandates
                // give: only what a service needs is served (R-NRT-8).
                services: vec![
                    domain::Service {
                        id: "live".to_owned(),
                        name: "Live power".to_owned(),
                        needs: vec![domain::DataKind::Nrt],
                    },
                    domain::Service {
                        id: "insights".to_owned(),
                        name: "Energy insights".to_owned(),
                        needs: vec![
                            domain::DataKind::Day,
                            domain::DataKind::QuarterHour,
                            domain::DataKind::Hour,
                            domain::DataKind::MonthPeak,
                        ],
                    },
                ],
            },
        };
        let onboarded: w::EspOnboarded = self.admin_ok("/api/admin/v1/esps", &body).await?;
        let esp = Esp {
            kbo,
            token: onboarded.token,
            secret: onboarded.webhook_secret,
            received,
            _endpoint: endpoint,
        };
        self.esps.insert(name.to_owned(), esp);
        self.esps.get(name).ok_or_else(|| anyhow!("ESP {name} vanished"))
    }

    fn esp(&self, name: &str) -> Result<&Esp> {
        self.esps.get(name).ok_or_else(|| anyhow!("no ESP {name} in this lab"))
    }

    fn point(&self, name: &str) -> Result<&Point> {
        self.points.get(name).ok_or_else(|| anyhow!("no point {name} in this lab"))
    }

    /// The customer grants (step-plan link, R-MAN-7) and approves; the mandate id. When the
    /// customer is not the point's grid user, the mandate then waits for the grid user's
    /// co-consent (R-MAN-3).
    pub async fn grant_mandate(
        &mut self,
        customer: &str,
        esp: &str,
        point: &str,
        quarter_hours: bool,
        period_from: Timestamp,
        renews: Option<&str>,
    ) -> Result<String> {
        let scope = if quarter_hours { w::Scope::WithInterval } else { w::Scope::DayOnly };
        let id =
            self.request_mandate(customer, esp, point, scope, true, period_from, renews).await?;
        let a = self.approve(customer, &id).await?;
        if a.status != 200 {
            bail!("approving {id}: {} {}", a.status, a.body);
        }
        Ok(id)
    }

    /// The customer goes through the ESP's step plan (R-MAN-7); the requested mandate's id.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_mandate(
        &mut self,
        customer: &str,
        esp: &str,
        point: &str,
        scope: w::Scope,
        history: bool,
        period_from: Timestamp,
        renews: Option<&str>,
    ) -> Result<String> {
        let request = w::MandateRequest {
            data_service_point: String::new(),
            scope,
            period_from: period_from.to_string(),
            period_to: None,
            history,
            renews: renews.map(str::to_owned),
        };
        self.step_plan(customer, esp, point, request).await
    }

    /// The customer sends `request` through the ESP's step plan for a point (its data
    /// service point is filled in here); the requested mandate's id.
    pub async fn step_plan(
        &mut self,
        customer: &str,
        esp: &str,
        point: &str,
        mut request: w::MandateRequest,
    ) -> Result<String> {
        let token = self.grid_user_token(customer).await?;
        let kbo = self.esp(esp)?.kbo.clone();
        request.data_service_point = self.point(point)?.dsp.to_string();
        let path = format!("/api/registers/v1/dienstverlener/{}/stappenplan", kbo.as_str());
        let a = self.post(&path, &token, &request).await?;
        if a.status != 201 {
            bail!("granting a mandate: {} {}", a.status, a.body);
        }
        let told: w::Notifications = typed(a.body, &path)?;
        told.notifications
            .first()
            .and_then(|n| n.mandate.clone())
            .ok_or_else(|| anyhow!("no mandate id among the notifications: {told:?}"))
    }

    /// A grid user refuses a requested mandate.
    pub async fn reject(&mut self, grid_user: &str, mandate: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        self.post(&format!("/api/registers/v1/mandates/{mandate}/reject"), &token, &NoBody {}).await
    }

    /// Onboards an ESP as given (its services, channel, webhook URL), without an endpoint of
    /// the lab's: the ESP under certification answers its own webhooks.
    pub async fn onboard(&mut self, name: &str, esp: domain::Esp) -> Result<w::EspOnboarded> {
        let kbo = esp.kbo.clone();
        let onboarded: w::EspOnboarded =
            self.admin_ok("/api/admin/v1/esps", &w::NewEsp { esp }).await?;
        let esp = Esp {
            kbo,
            token: onboarded.token.clone(),
            secret: onboarded.webhook_secret.clone(),
            received: Arc::new(Mutex::new(Vec::new())),
            _endpoint: None,
        };
        self.esps.insert(name.to_owned(), esp);
        Ok(onboarded)
    }

    /// An admin query, answered as it comes.
    pub async fn admin_get(&self, path: &str) -> Result<Answer> {
        self.get(path, &self.admin).await
    }

    /// An admin command (`POST` or `PATCH` with a JSON body), answered as it comes.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.api);
        let req = self.http.request(method.clone(), &url).bearer_auth(&self.admin).json(body);
        self.send(req, &format!("{method} {url}")).await
    }

    /// The grid user accepts the terms and consents to the ESP's `live` service; the consent id.
    pub async fn grant_consent(
        &mut self,
        grid_user: &str,
        esp: &str,
        point: &str,
    ) -> Result<String> {
        self.grant_consent_to(grid_user, esp, point, "live").await
    }

    /// The grid user accepts the terms and consents to one of the ESP's services.
    pub async fn grant_consent_to(
        &mut self,
        grid_user: &str,
        esp: &str,
        point: &str,
        service: &str,
    ) -> Result<String> {
        let token = self.grid_user_token(grid_user).await?;
        let kbo = self.esp(esp)?.kbo.clone();
        let p = self.point(point)?.clone();
        let terms = w::Terms { access_point: p.access_point.to_string() };
        let a = self.post("/api/registers/v1/terms", &token, &terms).await?;
        // Terms accepted earlier are fine.
        if a.status != 200 && a.code() != "duplicate" {
            bail!("accepting terms: {} {}", a.status, a.body);
        }
        let consent = w::NewConsent {
            data_service_point: p.dsp.to_string(),
            esp: kbo.to_string(),
            service: service.to_owned(),
        };
        let a = self.post("/api/registers/v1/consents", &token, &consent).await?;
        if a.status != 201 {
            bail!("granting a consent: {} {}", a.status, a.body);
        }
        let told: w::Notifications = typed(a.body, "POST /api/registers/v1/consents")?;
        told.notifications
            .first()
            .and_then(|n| n.consent.clone())
            .ok_or_else(|| anyhow!("no consent id among the notifications: {told:?}"))
    }

    /// A grid user revokes a consent.
    pub async fn revoke_consent(&mut self, grid_user: &str, consent: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        self.post(&format!("/api/registers/v1/consents/{consent}/revoke"), &token, &NoBody {}).await
    }

    /// Someone (`esp:NAME` or a grid user id) ends a mandate.
    pub async fn end_mandate(&mut self, who: &str, mandate: &str) -> Result<Answer> {
        let token = match who.strip_prefix("esp:") {
            Some(esp) => self.esp(esp)?.token.clone(),
            None => self.grid_user_token(who).await?,
        };
        self.post(&format!("/api/registers/v1/mandates/{mandate}/end"), &token, &NoBody {}).await
    }

    /// A market scenario on a point's access point.
    pub async fn market_scenario(
        &self,
        point: &str,
        kind: &str,
        effective: Timestamp,
        new_grid_user: Option<&str>,
        new_supplier: Option<&str>,
    ) -> Result<Answer> {
        let ap = self.point(point)?.access_point.clone();
        let scenario = w::NewScenario {
            access_point: ap.to_string(),
            kind: serde_json::from_value(serde_json::Value::String(kind.to_owned()))
                .with_context(|| format!("{kind:?} is no market scenario (SS, CS, CCSS, MI, …)"))?,
            effective: effective.to_string(),
            new_grid_user: new_grid_user.map(|g| GridUserId(g.to_owned())),
            new_supplier: new_supplier.map(|s| SupplierId(s.to_owned())),
        };
        self.post("/api/admin/v1/market-scenarios", &self.admin, &scenario).await
    }

    /// Energy of a point as a party sees it: `esp:NAME` or a grid user id.
    pub async fn energy(
        &mut self,
        who: &str,
        point: &str,
        granularity: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Answer> {
        let token = match who.strip_prefix("esp:") {
            Some(esp) => self.esp(esp)?.token.clone(),
            None => self.grid_user_token(who).await?,
        };
        let dsp = self.point(point)?.dsp.clone();
        let path = format!(
            "/api/esp/v1/points/{dsp}/energy?granularity={granularity}&from={from}&to={to}"
        );
        self.get(&path, &token).await
    }

    /// A grid user approves a mandate (as its customer, or as the grid user co-consenting).
    pub async fn approve(&mut self, grid_user: &str, mandate: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        self.post(&format!("/api/registers/v1/mandates/{mandate}/approve"), &token, &NoBody {})
            .await
    }

    /// Monthly figures of a point as an ESP sees them (R-DAT-3).
    pub async fn months(&self, esp: &str, point: &str, from: &str, to: &str) -> Result<Answer> {
        let token = self.esp(esp)?.token.clone();
        let dsp = self.point(point)?.dsp.clone();
        self.get(&format!("/api/esp/v1/points/{dsp}/months?from={from}&to={to}"), &token).await
    }

    /// The CSV download of a point's quarter hours or days (R-DAT-5).
    pub async fn energy_csv(
        &self,
        esp: &str,
        point: &str,
        granularity: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<String> {
        let token = self.esp(esp)?.token.clone();
        let dsp = self.point(point)?.dsp.clone();
        let url = format!(
            "{}/api/esp/v1/points/{dsp}/energy?granularity={granularity}&from={from}&to={to}&format=csv",
            self.api
        );
        let r = self.http.get(&url).bearer_auth(token).send().await.context("CSV download")?;
        if !r.status().is_success() {
            bail!("CSV download: {}", r.status());
        }
        r.text().await.context("reading the CSV")
    }

    /// Opens an ESP's NRT stream of a point; events arrive in the returned list as they come.
    pub async fn open_stream(
        &self,
        esp: &str,
        point: &str,
    ) -> Result<(u16, String, Arc<Mutex<Vec<String>>>)> {
        let token = self.esp(esp)?.token.clone();
        let dsp = self.point(point)?.dsp.clone();
        let r = self
            .http
            .get(format!("{}/api/esp/v1/points/{dsp}/stream", self.api))
            .bearer_auth(token)
            .send()
            .await
            .context("opening the NRT stream")?;
        let status = r.status().as_u16();
        let events = Arc::new(Mutex::new(Vec::new()));
        if status != 200 {
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let code = body["code"].as_str().unwrap_or("").to_owned();
            return Ok((status, code, events));
        }
        {
            let sink = events.clone();
            tokio::spawn(async move {
                let mut r = r;
                let mut buf = String::new();
                while let Ok(Some(chunk)) = r.chunk().await {
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buf.find("\n\n") {
                        let ev: String = buf.drain(..end + 2).collect();
                        let name = ev.lines().find_map(|l| l.strip_prefix("event: "));
                        let data = ev.lines().find_map(|l| l.strip_prefix("data: "));
                        // `sample@<capture time>`, so a check can tell when each was captured.
                        let at = data
                            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                            .and_then(|v| v["captured_at"].as_str().map(str::to_owned));
                        if let (Some(name), Ok(mut e)) = (name, sink.lock()) {
                            e.push(match at {
                                Some(at) => format!("{name}@{at}"),
                                None => name.to_owned(),
                            });
                        }
                    }
                }
                if let Ok(mut e) = sink.lock() {
                    e.push("closed".into());
                }
            });
        }
        Ok((status, String::new(), events))
    }

    /// The access register of a point (admin view).
    pub async fn access_log(&self, point: &str) -> Result<Vec<serde_json::Value>> {
        let dsp = self.point(point)?.dsp.clone();
        let a = self.get(&format!("/api/admin/v1/access-log?point={dsp}"), &self.admin).await?;
        Ok(a.body.as_array().cloned().unwrap_or_default())
    }

    /// Webhook events an ESP received so far.
    pub fn webhooks(&self, esp: &str) -> Result<Vec<Received>> {
        Ok(self.esp(esp)?.received.lock().map(|r| r.clone()).unwrap_or_default())
    }

    /// SLA figures per dongle over `[from, to)` (Brussels days); deadlines counted in
    /// `calendar` or `working` days.
    pub async fn sla(&self, from: &str, to: &str, count: &str) -> Result<serde_json::Value> {
        let path = format!("/api/admin/v1/sla?from={from}&to={to}&count={count}");
        let a = self.get(&path, &self.admin).await?;
        if a.status != 200 {
            bail!("GET sla: {} {}", a.status, a.body);
        }
        Ok(a.body)
    }

    /// The mandate status an ESP sees for a point (R-MAN-8).
    pub async fn mandate_status(&self, esp: &str, point: &str) -> Result<serde_json::Value> {
        let token = self.esp(esp)?.token.clone();
        let dsp = self.point(point)?.dsp.clone();
        let request = w::StatusRequest { points: vec![dsp.to_string()] };
        let a = self.post("/api/esp/v1/mandates/status", &token, &request).await?;
        Ok(a.body[0]["mandate"].clone())
    }

    /// Third parties with access to a point now, as its grid user sees them (R-ACC-5).
    pub async fn parties(&mut self, grid_user: &str, point: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        let ap = self.point(point)?.access_point.clone();
        self.get(&format!("/api/registers/v1/points/{ap}/parties"), &token).await
    }

    /// Declares or ends an unplanned outage.
    pub async fn outage(&self, active: bool) -> Result<()> {
        let outage = w::Outage { active, reason: "lab".to_owned(), retry_after_s: None };
        let _: IgnoredAny = self.admin_ok("/api/admin/v1/outage", &outage).await?;
        Ok(())
    }
}
