//! The consent ledger: evidence of every consent given through a form and
//! of every withdrawal (152-FZ art. 9: the operator must be able to prove
//! consent). Subjects appear only as keyed fingerprints of their e-mail and
//! phone, never raw.
//!
//! One append-only table of events, in SQLite (one file, the default) or
//! PostgreSQL (several replicas). A consent is active for a subject and a
//! purpose when the subject's latest event covering that purpose is a
//! consent. A record is acknowledged only once it is durable: SQLite runs
//! in WAL mode with `synchronous=FULL`, PostgreSQL commits each insert.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use serde::Serialize;

/// A consent to record.
#[derive(Clone, Debug)]
pub struct NewConsent {
    pub form: String,
    pub purposes: Vec<String>,
    pub policy_version: String,
    pub client: String,
    pub request_id: String,
    pub email_fp: Option<String>,
    pub phone_fp: Option<String>,
}

/// One event of the ledger, as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    /// `consent` or `withdrawal`.
    pub kind: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub purposes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_fingerprint: Option<String>,
    /// For a withdrawal: how it reached the clinic (`letter`, `email`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Purposes are stored as `,a,b,` so that one `LIKE '%,a,%'` finds them
/// in both stores; `*` is every purpose.
fn pack(purposes: &[String]) -> String {
    format!(",{},", purposes.join(","))
}

fn unpack(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS zaslon_consent_events (
    id {ID},
    kind TEXT NOT NULL,
    time TEXT NOT NULL,
    purposes TEXT NOT NULL,
    form TEXT,
    policy_version TEXT,
    client TEXT,
    request_id TEXT,
    email_fp TEXT,
    phone_fp TEXT,
    subject_fp TEXT,
    source TEXT
)";

const INDEXES: [&str; 3] = [
    "CREATE INDEX IF NOT EXISTS zaslon_consent_email ON zaslon_consent_events (email_fp)",
    "CREATE INDEX IF NOT EXISTS zaslon_consent_phone ON zaslon_consent_events (phone_fp)",
    "CREATE INDEX IF NOT EXISTS zaslon_consent_subject ON zaslon_consent_events (subject_fp)",
];

/// Events that concern a subject: consents naming the fingerprint, and
/// withdrawals for it.
const HISTORY: &str = "SELECT id, kind, time, purposes, form, policy_version, client, request_id, email_fp, phone_fp, source
    FROM zaslon_consent_events
    WHERE email_fp = $1 OR phone_fp = $1 OR subject_fp = $1
    ORDER BY id";

/// The store.
#[derive(Clone)]
pub enum Ledger {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(Arc<tokio_postgres::Client>),
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ledger::Sqlite(_) => f.write_str("Ledger::Sqlite"),
            Ledger::Postgres(_) => f.write_str("Ledger::Postgres"),
        }
    }
}

impl Ledger {
    /// Opens (and creates) a SQLite ledger file.
    pub fn sqlite(path: &Path) -> Result<Ledger> {
        let c = rusqlite::Connection::open(path)
            .with_context(|| format!("{}: cannot open the consent ledger", path.display()))?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        c.execute(
            &SCHEMA.replace("{ID}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            [],
        )?;
        for i in INDEXES {
            c.execute(i, [])?;
        }
        Ok(Ledger::Sqlite(Arc::new(Mutex::new(c))))
    }

    /// Connects to PostgreSQL (`host=… user=… dbname=…` or a URL).
    pub async fn postgres(conn: &str) -> Result<Ledger> {
        let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
            .await
            .context("cannot connect to the PostgreSQL consent ledger")?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::error!(error = %e, "consent ledger connection lost");
            }
        });
        client
            .batch_execute(&format!(
                "{};\n{};",
                SCHEMA.replace("{ID}", "BIGSERIAL PRIMARY KEY"),
                INDEXES.join(";\n")
            ))
            .await
            .context("cannot create the consent ledger's table")?;
        Ok(Ledger::Postgres(Arc::new(client)))
    }

    async fn sqlite_op<T: Send + 'static>(
        c: &Arc<Mutex<rusqlite::Connection>>,
        f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let c = c.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .context("ledger task")?
        .context("consent ledger")
    }

    /// Records a consent; returns its id once it is durable.
    pub async fn record(&self, n: NewConsent) -> Result<i64> {
        let time = now();
        let purposes = pack(&n.purposes);
        match self {
            Ledger::Sqlite(c) => {
                Self::sqlite_op(c, move |c| {
                    c.execute(
                        "INSERT INTO zaslon_consent_events (kind, time, purposes, form, policy_version, client, request_id, email_fp, phone_fp)
                         VALUES ('consent', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        rusqlite::params![time, purposes, n.form, n.policy_version, n.client, n.request_id, n.email_fp, n.phone_fp],
                    )?;
                    Ok(c.last_insert_rowid())
                })
                .await
            }
            Ledger::Postgres(c) => {
                let row = c
                    .query_one(
                        "INSERT INTO zaslon_consent_events (kind, time, purposes, form, policy_version, client, request_id, email_fp, phone_fp)
                         VALUES ('consent', $1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                        &[&time, &purposes, &n.form, &n.policy_version, &n.client, &n.request_id, &n.email_fp, &n.phone_fp],
                    )
                    .await
                    .context("consent ledger")?;
                Ok(row.get(0))
            }
        }
    }

    /// Every event about a subject, oldest first.
    pub async fn history(&self, fp: &str) -> Result<Vec<Event>> {
        let fp = fp.to_string();
        type Row = (
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = match self {
            Ledger::Sqlite(c) => {
                Self::sqlite_op(c, move |c| {
                    let mut st = c.prepare(&HISTORY.replace("$1", "?1"))?;
                    let rows = st.query_map([fp], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                        ))
                    })?;
                    rows.collect()
                })
                .await?
            }
            Ledger::Postgres(c) => c
                .query(HISTORY, &[&fp])
                .await
                .context("consent ledger")?
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                        r.get(5),
                        r.get(6),
                        r.get(7),
                        r.get(8),
                        r.get(9),
                        r.get(10),
                    )
                })
                .collect(),
        };
        Ok(rows
            .into_iter()
            .map(|r| Event {
                id: r.0,
                kind: r.1,
                time: r.2,
                purposes: unpack(&r.3),
                form: r.4,
                policy_version: r.5,
                client: r.6,
                request_id: r.7,
                email_fingerprint: r.8,
                phone_fingerprint: r.9,
                source: r.10,
            })
            .collect())
    }

    /// Records a withdrawal for a subject (for the given purposes, or all
    /// when empty), and for every e-mail and phone its consents named
    /// together with it, so that the person is covered whichever
    /// identifier a later transfer carries. Returns the fingerprints
    /// covered.
    pub async fn withdraw(
        &self,
        fp: &str,
        purposes: &[String],
        source: &str,
    ) -> Result<Vec<String>> {
        let mut subjects = vec![fp.to_string()];
        for e in self.history(fp).await? {
            for linked in [e.email_fingerprint, e.phone_fingerprint]
                .into_iter()
                .flatten()
            {
                if !subjects.contains(&linked) {
                    subjects.push(linked);
                }
            }
        }
        let packed = if purposes.is_empty() {
            ",*,".to_string()
        } else {
            pack(purposes)
        };
        let time = now();
        let source = source.to_string();
        match self {
            Ledger::Sqlite(c) => {
                let subjects = subjects.clone();
                Self::sqlite_op(c, move |c| {
                    let tx = c.transaction()?;
                    for s in &subjects {
                        tx.execute(
                            "INSERT INTO zaslon_consent_events (kind, time, purposes, subject_fp, source)
                             VALUES ('withdrawal', ?1, ?2, ?3, ?4)",
                            rusqlite::params![time, packed, s, source],
                        )?;
                    }
                    tx.commit()
                })
                .await?;
            }
            Ledger::Postgres(c) => {
                // One statement: all subjects or none.
                c.execute(
                    "INSERT INTO zaslon_consent_events (kind, time, purposes, subject_fp, source)
                     SELECT 'withdrawal', $1, $2, s, $3 FROM unnest($4::text[]) AS s",
                    &[&time, &packed, &source, &subjects],
                )
                .await
                .context("consent ledger")?;
            }
        }
        Ok(subjects)
    }

    /// Whether a subject's consent for `purpose` is active: given and not
    /// withdrawn since.
    pub async fn active(&self, fp: &str, purpose: &str) -> Result<bool> {
        let mut state = false;
        for e in self.history(fp).await? {
            let covers = e.purposes.iter().any(|p| p == purpose || p == "*");
            if !covers {
                continue;
            }
            state = e.kind == "consent";
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(email: &str, phone: Option<&str>, purposes: &[&str]) -> NewConsent {
        NewConsent {
            form: "feedback".into(),
            purposes: purposes.iter().map(|p| p.to_string()).collect(),
            policy_version: "2023-10".into(),
            client: "127.0.0.1".into(),
            request_id: "r1".into(),
            email_fp: Some(email.into()),
            phone_fp: phone.map(str::to_string),
        }
    }

    /// The PostgreSQL connection string for tests: CI always has one.
    pub fn test_postgres() -> Option<String> {
        match std::env::var("ZASLON_TEST_POSTGRES") {
            Ok(c) => Some(c),
            Err(_) if std::env::var("CI").is_ok() => {
                panic!("CI must set ZASLON_TEST_POSTGRES: the ledger is tested on both stores")
            }
            Err(_) => {
                eprintln!("skipped: ZASLON_TEST_POSTGRES is not set");
                None
            }
        }
    }

    /// The same checks on either store; `reopen` gives a fresh handle on
    /// the same data.
    async fn exercise<F, Fut>(reopen: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Ledger>,
    {
        // Fingerprints unique to this run: a shared database may hold others.
        let run = uuid::Uuid::new_v4().simple().to_string();
        let (e1, p1) = (format!("e-{run}"), format!("p-{run}"));
        let l = reopen().await;
        assert!(!l.active(&e1, "mailing").await.unwrap());
        l.record(consent(&e1, Some(&p1), &["processing", "mailing"]))
            .await
            .unwrap();
        assert!(l.active(&e1, "mailing").await.unwrap());
        assert!(l.active(&p1, "mailing").await.unwrap());
        assert!(!l.active(&e1, "analytics").await.unwrap());
        // Withdrawn by e-mail: the phone given with it is covered too.
        let covered = l
            .withdraw(&e1, &["mailing".into()], "letter")
            .await
            .unwrap();
        assert_eq!(covered, [e1.clone(), p1.clone()]);
        assert!(!l.active(&e1, "mailing").await.unwrap());
        assert!(!l.active(&p1, "mailing").await.unwrap());
        assert!(l.active(&e1, "processing").await.unwrap());
        // Given again later: active again.
        l.record(consent(&e1, None, &["mailing"])).await.unwrap();
        assert!(l.active(&e1, "mailing").await.unwrap());
        // Withdrawn for every purpose.
        l.withdraw(&e1, &[], "email").await.unwrap();
        assert!(!l.active(&e1, "processing").await.unwrap());
        let h = l.history(&e1).await.unwrap();
        assert_eq!(
            h.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["consent", "withdrawal", "consent", "withdrawal"]
        );
        // Durable across a reopen.
        drop(l);
        let l = reopen().await;
        assert_eq!(l.history(&e1).await.unwrap(), h);
    }

    #[tokio::test]
    async fn sqlite_consent_withdrawal_and_linked_identifiers() {
        let dir = std::env::temp_dir().join(format!("zaslon-ledger-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.sqlite");
        exercise(|| {
            let path = path.clone();
            async move { Ledger::sqlite(&path).unwrap() }
        })
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn postgres_consent_withdrawal_and_linked_identifiers() {
        let Some(conn) = test_postgres() else { return };
        exercise(|| {
            let conn = conn.clone();
            async move { Ledger::postgres(&conn).await.unwrap() }
        })
        .await;
    }
}
