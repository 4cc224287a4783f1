//! The lab's side of data access: a client of the platform's registers, admin and ESP APIs
//! over HTTP (so scenarios exercise the real API, tokens included), the ESPs' own webhook
//! endpoints (a small HTTP server each, [`WebhookSink`]), and the provisioning `meterlab up` and the suites
//! share: an access point and data service point per meter, linked to its dongle.

use anyhow::{Context, Result, anyhow, bail};
use clock::Timestamp;
use domain::{Ean, Kbo};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.api);
        let mut req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url).json(&body.unwrap_or(serde_json::json!({}))),
        };
        req = req.bearer_auth(token);
        let r = req.send().await.with_context(|| format!("{method} {url}"))?;
        let status = r.status().as_u16();
        let text = r.text().await.with_context(|| format!("reading {method} {url}"))?;
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }

    async fn admin_ok(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        let a = self.call("POST", path, &self.admin, Some(body)).await?;
        if a.status >= 300 {
            bail!("POST {path}: {} {}", a.status, a.body);
        }
        Ok(a.body)
    }

    /// The token of a grid user (issued on first use).
    pub async fn grid_user_token(&mut self, id: &str) -> Result<String> {
        if let Some(t) = self.tokens.get(id) {
            return Ok(t.clone());
        }
        let body = self
            .admin_ok(
                "/api/admin/v1/tokens",
                serde_json::json!({ "party": { "role": "grid_user", "id": id }, "label": id }),
            )
            .await?;
        let t = body["token"].as_str().ok_or_else(|| anyhow!("no token in {body}"))?.to_owned();
        self.tokens.insert(id.to_owned(), t.clone());
        Ok(t)
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
        self.admin_ok(
            "/api/admin/v1/access-points",
            serde_json::json!({
                "access_point": { "ean": ap, "commodity": "electricity", "address": format!("Lab rig, {name}"), "data_service_points": [dsp] },
                "data_service_points": [{ "id": dsp, "access_point": ap, "commodity": "electricity", "meter": meter }],
                "grid_user": grid_user,
                "supplier": "supplier-1",
                "since": since,
            }),
        )
        .await?;
        self.admin_ok(
            "/api/admin/v1/links",
            serde_json::json!({ "link": { "dongle": dongle, "meter": meter, "data_service_point": dsp, "since": since } }),
        )
        .await?;
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
        let body = self
            .admin_ok(
                "/api/admin/v1/esps",
                serde_json::json!({ "esp": {
                    "kbo": kbo, "gln": null, "name": name, "channel": "api", "status": "active",
                    "webhook_url": url,
                    "services": [{ "id": "live", "name": "Live power", "needs": ["nrt"] }],
                }}),
            )
            .await?;
        let esp = Esp {
            kbo,
            token: body["token"].as_str().unwrap_or_default().to_owned(),
            secret: body["webhook_secret"].as_str().unwrap_or_default().to_owned(),
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
        let token = self.grid_user_token(customer).await?;
        let kbo = self.esp(esp)?.kbo.clone();
        let dsp = self.point(point)?.dsp.clone();
        let scope = if quarter_hours { "with_interval" } else { "day_only" };
        let a = self
            .call(
                "POST",
                &format!("/api/registers/v1/dienstverlener/{}/stappenplan", kbo.as_str()),
                &token,
                Some(serde_json::json!({
                    "data_service_point": dsp, "scope": scope, "period_from": period_from,
                    "history": true, "renews": renews,
                })),
            )
            .await?;
        if a.status != 201 {
            bail!("granting a mandate: {} {}", a.status, a.body);
        }
        let id = a.body["notifications"][0]["mandate"]
            .as_str()
            .ok_or_else(|| anyhow!("no mandate id in {}", a.body))?
            .to_owned();
        let a = self
            .call("POST", &format!("/api/registers/v1/mandates/{id}/approve"), &token, None)
            .await?;
        if a.status != 200 {
            bail!("approving {id}: {} {}", a.status, a.body);
        }
        Ok(id)
    }

    /// The grid user accepts the terms and consents to the ESP's `live` service; the consent id.
    pub async fn grant_consent(
        &mut self,
        grid_user: &str,
        esp: &str,
        point: &str,
    ) -> Result<String> {
        let token = self.grid_user_token(grid_user).await?;
        let kbo = self.esp(esp)?.kbo.clone();
        let p = self.point(point)?.clone();
        let a = self
            .call(
                "POST",
                "/api/registers/v1/terms",
                &token,
                Some(serde_json::json!({ "access_point": p.access_point })),
            )
            .await?;
        // Terms accepted earlier are fine.
        if a.status != 200 && a.code() != "duplicate" {
            bail!("accepting terms: {} {}", a.status, a.body);
        }
        let a = self
            .call(
                "POST",
                "/api/registers/v1/consents",
                &token,
                Some(serde_json::json!({ "data_service_point": p.dsp, "esp": kbo, "service": "live" })),
            )
            .await?;
        if a.status != 201 {
            bail!("granting a consent: {} {}", a.status, a.body);
        }
        a.body["notifications"][0]["consent"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no consent id in {}", a.body))
    }

    /// A grid user revokes a consent.
    pub async fn revoke_consent(&mut self, grid_user: &str, consent: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        self.call("POST", &format!("/api/registers/v1/consents/{consent}/revoke"), &token, None)
            .await
    }

    /// Someone (`esp:NAME` or a grid user id) ends a mandate.
    pub async fn end_mandate(&mut self, who: &str, mandate: &str) -> Result<Answer> {
        let token = match who.strip_prefix("esp:") {
            Some(esp) => self.esp(esp)?.token.clone(),
            None => self.grid_user_token(who).await?,
        };
        self.call("POST", &format!("/api/registers/v1/mandates/{mandate}/end"), &token, None).await
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
        self.call(
            "POST",
            "/api/admin/v1/market-scenarios",
            &self.admin,
            Some(serde_json::json!({
                "access_point": ap, "kind": kind, "effective": effective,
                "new_grid_user": new_grid_user, "new_supplier": new_supplier,
            })),
        )
        .await
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
        self.call(
            "GET",
            &format!(
                "/api/esp/v1/points/{dsp}/energy?granularity={granularity}&from={from}&to={to}"
            ),
            &token,
            None,
        )
        .await
    }

    /// A grid user approves a mandate (as its customer, or as the grid user co-consenting).
    pub async fn approve(&mut self, grid_user: &str, mandate: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        self.call("POST", &format!("/api/registers/v1/mandates/{mandate}/approve"), &token, None)
            .await
    }

    /// Monthly figures of a point as an ESP sees them (R-DAT-3).
    pub async fn months(&self, esp: &str, point: &str, from: &str, to: &str) -> Result<Answer> {
        let token = self.esp(esp)?.token.clone();
        let dsp = self.point(point)?.dsp.clone();
        self.call(
            "GET",
            &format!("/api/esp/v1/points/{dsp}/months?from={from}&to={to}"),
            &token,
            None,
        )
        .await
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
        let a = self
            .call("GET", &format!("/api/admin/v1/access-log?point={dsp}"), &self.admin, None)
            .await?;
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
        let a = self.call("GET", &path, &self.admin, None).await?;
        if a.status != 200 {
            bail!("GET sla: {} {}", a.status, a.body);
        }
        Ok(a.body)
    }

    /// The mandate status an ESP sees for a point (R-MAN-8).
    pub async fn mandate_status(&self, esp: &str, point: &str) -> Result<serde_json::Value> {
        let token = self.esp(esp)?.token.clone();
        let dsp = self.point(point)?.dsp.clone();
        let a = self
            .call(
                "POST",
                "/api/esp/v1/mandates/status",
                &token,
                Some(serde_json::json!({ "points": [dsp] })),
            )
            .await?;
        Ok(a.body[0]["mandate"].clone())
    }

    /// Third parties with access to a point now, as its grid user sees them (R-ACC-5).
    pub async fn parties(&mut self, grid_user: &str, point: &str) -> Result<Answer> {
        let token = self.grid_user_token(grid_user).await?;
        let ap = self.point(point)?.access_point.clone();
        self.call("GET", &format!("/api/registers/v1/points/{ap}/parties"), &token, None).await
    }

    /// Declares or ends an unplanned outage.
    pub async fn outage(&self, active: bool) -> Result<()> {
        self.admin_ok(
            "/api/admin/v1/outage",
            serde_json::json!({ "active": active, "reason": "lab" }),
        )
        .await
        .map(|_| ())
    }
}
