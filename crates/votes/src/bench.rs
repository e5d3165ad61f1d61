//! The loopback load generator: many clients casting planned votes at a votes server, each
//! acknowledged vote recorded with its latency. `votes bench` (and `cargo xtask
//! bench-votes`) reports votes/s and p50/p99 from it; the load and SIGKILL tests use it to
//! know exactly which votes were acknowledged.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::{Tally, Vote};

/// One vote to cast: `agent` is the User-Agent, which makes the visitor key distinct for
/// clients that share an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub item: String,
    pub vote: Vote,
    pub agent: String,
}

/// `n` votes over `items` in turn, ship and skip alternating in a pattern that does not
/// follow the item order, each with its own agent `<tag>-<i>`.
pub fn plan(items: &[String], n: usize, tag: &str) -> Vec<Planned> {
    (0..n)
        .map(|i| Planned {
            item: items[i % items.len()].clone(),
            vote: if (i / items.len()) % 3 == 0 {
                Vote::Skip
            } else {
                Vote::Ship
            },
            agent: format!("{tag}-{i}"),
        })
        .collect()
}

/// What a burst did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Votes the server answered 200 for, with the tally it answered and the latency.
    pub acked: Vec<(Planned, Tally, Duration)>,
    /// Votes that got no 200 (connection refused or reset, or an error status).
    pub failed: Vec<(Planned, String)>,
    pub elapsed: Duration,
}

/// Casts `plan` at `base` (e.g. `http://127.0.0.1:8080/`) from `clients` concurrent
/// clients, each on its own connection; `acked` counts acknowledgements as they come
/// (a test watches it to kill the server mid-burst). A client stops at its first failure.
pub async fn burst(
    base: &str,
    clients: usize,
    plan: Vec<Planned>,
    acked: Arc<AtomicUsize>,
) -> Outcome {
    let url = format!("{}api/votes", base);
    let plan = Arc::new(plan);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, plan, acked) = (url.clone(), plan.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build();
            let mut out = Outcome::default();
            let client = match client {
                Ok(c) => c,
                Err(e) => {
                    for p in plan.iter().skip(c).step_by(clients) {
                        out.failed.push((p.clone(), e.to_string()));
                    }
                    return out;
                }
            };
            let mut dead = None;
            for p in plan.iter().skip(c).step_by(clients) {
                if let Some(e) = &dead {
                    out.failed.push((p.clone(), format!("not sent: {e}")));
                    continue;
                }
                let t = Instant::now();
                match cast(&client, &url, p).await {
                    Ok(tally) => {
                        out.acked.push((p.clone(), tally, t.elapsed()));
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        out.failed.push((p.clone(), e.clone()));
                        dead = Some(e);
                    }
                }
            }
            out
        }));
    }
    let mut all = Outcome::default();
    for t in tasks {
        match t.await {
            Ok(o) => {
                all.acked.extend(o.acked);
                all.failed.extend(o.failed);
            }
            Err(e) => all.failed.push((
                Planned {
                    item: String::new(),
                    vote: Vote::Ship,
                    agent: String::new(),
                },
                format!("client task failed: {e}"),
            )),
        }
    }
    all.elapsed = start.elapsed();
    all
}

async fn cast(client: &reqwest::Client, url: &str, p: &Planned) -> Result<Tally, String> {
    let res = client
        .post(url)
        .header(reqwest::header::USER_AGENT, &p.agent)
        .json(&serde_json::json!({ "item": p.item, "vote": p.vote }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("status {status}"));
    }
    res.json::<Tally>().await.map_err(|e| e.to_string())
}

/// Votes/s and latency percentiles of a burst.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub engine: String,
    pub clients: usize,
    pub votes: usize,
    pub failed: usize,
    pub seconds: f64,
    pub votes_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Report {
    pub fn new(engine: &str, clients: usize, o: &Outcome) -> Report {
        let mut lat: Vec<f64> = o
            .acked
            .iter()
            .map(|(_, _, d)| d.as_secs_f64() * 1e3)
            .collect();
        lat.sort_by(f64::total_cmp);
        let secs = o.elapsed.as_secs_f64();
        Report {
            engine: engine.to_owned(),
            clients,
            votes: o.acked.len(),
            failed: o.failed.len(),
            seconds: secs,
            votes_per_s: if secs > 0.0 {
                o.acked.len() as f64 / secs
            } else {
                0.0
            },
            p50_ms: percentile(&lat, 0.50),
            p99_ms: percentile(&lat, 0.99),
            max_ms: lat.last().copied().unwrap_or(0.0),
        }
    }
}

/// The nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn a_plan_spreads_votes_over_items_with_distinct_agents() {
        let items = vec!["a".to_string(), "b".to_string()];
        let p = plan(&items, 6, "t");
        let agents: std::collections::HashSet<_> = p.iter().map(|v| &v.agent).collect();
        assert_eq!(agents.len(), 6);
        assert_eq!(p.iter().filter(|v| v.item == "a").count(), 3);
        assert!(p.iter().any(|v| v.vote == Vote::Ship));
        assert!(p.iter().any(|v| v.vote == Vote::Skip));
    }
}
