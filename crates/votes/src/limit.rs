//! The per-address rate limit on votes: a token bucket per client address, in memory only
//! (an entry is dropped once its bucket is full again, so addresses are not kept).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// `per_minute` votes a minute from one address, in bursts of up to `per_minute`.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `per_minute == 0` turns the limit off.
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one vote from `addr`'s bucket at `now`: `Ok(())`, or `Err(wait)` with the time
    /// until the next vote is allowed.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let per_sec = cap / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            // Forget every address whose bucket has refilled: it is as if it were new.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < cap
            });
        }
        let b = buckets.entry(addr).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        let refilled = b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec;
        b.tokens = refilled.min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn thirty_a_minute_then_the_next_waits_two_seconds() {
        let limit = RateLimit::new(30);
        let t = Instant::now();
        for _ in 0..30 {
            assert_eq!(limit.check(A, t), Ok(()));
        }
        let wait = limit.check(A, t).unwrap_err();
        assert!((wait.as_secs_f64() - 2.0).abs() < 1e-6, "{wait:?}");
        // Another address has its own bucket.
        assert_eq!(limit.check(B, t), Ok(()));
        // Two seconds later one more vote is allowed, and only one.
        let later = t + Duration::from_secs(2);
        assert_eq!(limit.check(A, later), Ok(()));
        assert!(limit.check(A, later).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = RateLimit::new(0);
        let t = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limit.check(A, t), Ok(()));
        }
    }
}
