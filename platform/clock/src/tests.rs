use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use jiff::civil::date;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

fn poll_once(fut: &mut SleepFuture<'_>, waker: &Waker) -> Poll<()> {
    fut.as_mut().poll(&mut Context::from_waker(waker))
}

/// A waker that logs its label when woken, to observe wake order without a scheduler.
struct Recorder {
    label: u32,
    log: Arc<Mutex<Vec<u32>>>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.label);
    }
}

fn recorder(label: u32, log: &Arc<Mutex<Vec<u32>>>) -> Waker {
    Waker::from(Arc::new(Recorder { label, log: log.clone() }))
}

// --- SystemClock -----------------------------------------------------------------------------

#[tokio::test]
async fn system_clock_sleeps_until_the_wall_clock_deadline() {
    let clock = SystemClock;
    let mut past = clock.sleep_until(clock.now() - secs(1));
    assert!(poll_once(&mut past, Waker::noop()).is_ready());
    let deadline = clock.now() + SignedDuration::from_millis(30);
    clock.sleep_until(deadline).await;
    assert!(clock.now() >= deadline);
}

// --- SimClock: manual ------------------------------------------------------------------------

#[test]
fn manual_advance_wakes_sleepers_in_deadline_order() {
    let t0 = ts("2026-03-29T00:00:00Z");
    let clock = SimClock::new(t0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut futs: Vec<_> = [3, 1, 2].map(|s| (s, clock.sleep_until(t0 + secs(s)))).into();
    for (s, fut) in &mut futs {
        assert!(poll_once(fut, &recorder(*s as u32, &log)).is_pending());
    }
    assert_eq!(clock.pending_deadlines(), 3);
    assert_eq!(clock.next_deadline(), Some(t0 + secs(1)));

    clock.advance(secs(2)).unwrap();
    assert_eq!(*log.lock().unwrap(), [1, 2]);
    assert_eq!(clock.now(), t0 + secs(2));
    assert_eq!(clock.pending_deadlines(), 1);

    clock.advance(secs(10)).unwrap();
    assert_eq!(*log.lock().unwrap(), [1, 2, 3]);
    for (_, fut) in &mut futs {
        assert!(poll_once(fut, Waker::noop()).is_ready());
    }
    assert_eq!(clock.pending_deadlines(), 0);
}

#[test]
fn equal_deadlines_wake_in_registration_order() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::new(t0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut futs: Vec<_> = (0..5).map(|_| clock.sleep_until(t0 + secs(1))).collect();
    // Register in a scrambled order: that order, not creation order, decides.
    for i in [3, 0, 4, 1, 2] {
        assert!(poll_once(&mut futs[i], &recorder(i as u32, &log)).is_pending());
    }
    clock.advance_to_next_deadline();
    assert_eq!(*log.lock().unwrap(), [3, 0, 4, 1, 2]);
}

#[test]
fn time_never_goes_backwards() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::new(t0);
    let backwards = SimClockError::Backwards { now: t0, requested: t0 - secs(1) };
    assert_eq!(clock.advance(secs(-1)), Err(backwards));
    assert_eq!(clock.set(t0 - secs(1)), Err(backwards));
    assert_eq!(clock.set(t0), Ok(()));
    assert_eq!(clock.advance(SignedDuration::MAX), Err(SimClockError::OutOfRange));
    assert_eq!(clock.now(), t0);
}

#[test]
fn due_sleeps_are_ready_without_registering() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::new(t0);
    let mut fut = clock.sleep_until(t0);
    assert!(poll_once(&mut fut, Waker::noop()).is_ready());
    assert_eq!(clock.pending_deadlines(), 0);
    assert_eq!(clock.advance_to_next_deadline(), None);
}

#[test]
fn dropping_a_sleep_deregisters_it() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::new(t0);
    let mut early = clock.sleep_until(t0 + secs(1));
    let mut late = clock.sleep_until(t0 + secs(2));
    let never_polled = clock.sleep_until(t0 + secs(3));
    assert!(poll_once(&mut early, Waker::noop()).is_pending());
    assert!(poll_once(&mut late, Waker::noop()).is_pending());
    assert_eq!(clock.pending_deadlines(), 2);
    drop(early);
    drop(never_polled);
    assert_eq!(clock.pending_deadlines(), 1);
    assert_eq!(clock.next_deadline(), Some(t0 + secs(2)));
    drop(late);
    assert_eq!(clock.pending_deadlines(), 0);
    assert_eq!(clock.next_deadline(), None);
}

#[test]
fn a_woken_sleep_counts_as_unobserved_until_polled_or_dropped() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::new(t0);
    let mut polled = clock.sleep_until(t0 + secs(1));
    let mut dropped = clock.sleep_until(t0 + secs(1));
    assert!(poll_once(&mut polled, Waker::noop()).is_pending());
    assert!(poll_once(&mut dropped, Waker::noop()).is_pending());
    clock.advance(secs(1)).unwrap();
    assert_eq!((clock.pending_deadlines(), clock.unobserved()), (0, 2));
    assert!(poll_once(&mut polled, Waker::noop()).is_ready());
    drop(dropped);
    // Otherwise `settle` would wait for these until its stall limit.
    assert_eq!(clock.unobserved(), 0);
}

#[tokio::test]
async fn manual_advance_then_settle_runs_woken_tasks_in_deadline_order() {
    let t0 = ts("2026-03-29T00:00:00Z");
    let clock = SimClock::new(t0);
    let log = Arc::new(Mutex::new(Vec::new()));
    for s in [3, 1, 2] {
        let (clock, log) = (clock.clone(), log.clone());
        tokio::spawn(async move {
            clock.sleep_until(t0 + secs(s)).await;
            log.lock().unwrap().push((s, clock.now()));
        });
    }
    clock.settle().await;
    assert_eq!(clock.pending_deadlines(), 3);
    clock.advance(secs(5)).unwrap();
    clock.settle().await;
    let at = t0 + secs(5);
    assert_eq!(*log.lock().unwrap(), [(1, at), (2, at), (3, at)]);
}

// --- SimClock: discrete-event ----------------------------------------------------------------

#[tokio::test]
async fn discrete_run_of_an_hour_of_seconds_lands_exactly_on_the_end() {
    // Starts 30 min before the spring DST change, for good measure.
    let start = ts("2026-03-29T00:30:00Z");
    let clock = SimClock::new(start);
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let clock = clock.clone();
            tokio::spawn(async move {
                let mut woke_at = Vec::with_capacity(3600);
                for _ in 0..3600 {
                    let next = clock.now() + secs(1);
                    clock.sleep_until(next).await;
                    woke_at.push(clock.now());
                }
                woke_at
            })
        })
        .collect();

    let steps = clock.run_until(start + secs(3600)).await;

    assert_eq!(steps, 3600);
    assert_eq!(clock.now(), start + secs(3600));
    assert_eq!(clock.pending_deadlines(), 0);
    let expected: Vec<_> = (1..=3600).map(|i| start + secs(i)).collect();
    for task in tasks {
        assert!(task.is_finished());
        assert_eq!(task.await.unwrap(), expected);
    }
}

#[tokio::test]
async fn run_until_goes_to_end_when_sleepers_run_out_or_lie_beyond() {
    let start = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::new(start);
    assert_eq!(clock.run_until(start + secs(60)).await, 0);
    assert_eq!(clock.now(), start + secs(60));

    let sleeper = clock.clone();
    let task = tokio::spawn(async move { sleeper.sleep_until(start + secs(3600)).await });
    assert_eq!(clock.run_until(start + secs(120)).await, 0);
    assert_eq!(clock.now(), start + secs(120));
    assert_eq!(clock.pending_deadlines(), 1);
    assert_eq!(clock.run_until(start + secs(3600)).await, 1);
    task.await.unwrap();
}

/// Three meters with different periods log `(meter, now)` for ten simulated minutes.
async fn interleaved_run() -> Vec<(u32, Timestamp)> {
    let start = ts("2026-10-25T00:55:00Z");
    let clock = SimClock::new(start);
    let log = Arc::new(Mutex::new(Vec::new()));
    for (meter, period) in [(0, 1), (1, 2), (2, 3)] {
        let (clock, log) = (clock.clone(), log.clone());
        tokio::spawn(async move {
            let mut next = start;
            loop {
                next += secs(period);
                clock.sleep_until(next).await;
                log.lock().unwrap().push((meter, clock.now()));
            }
        });
    }
    clock.run_until(start + secs(600)).await;
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn discrete_runs_are_deterministic() {
    let first = interleaved_run().await;
    assert_eq!(first.len(), 600 + 300 + 200);
    assert_eq!(first[..4].iter().map(|(m, _)| *m).collect::<Vec<_>>(), [0, 1, 0, 2]);
    // At t = 6 s all three are due: they wake in the order they registered for it.
    assert_eq!(first.iter().filter(|(_, t)| *t == ts("2026-10-25T00:55:06Z")).count(), 3);
    assert_eq!(interleaved_run().await, first);
}

#[tokio::test]
async fn a_quarter_ticker_sees_92_quarters_on_the_spring_dst_day() {
    let (start, end) = day_bounds(date(2026, 3, 29));
    let clock = SimClock::new(start);
    let ticker = clock.clone();
    let task = tokio::spawn(async move {
        let mut quarters = 0;
        while ticker.now() < end {
            ticker.sleep_until(next_quarter(ticker.now())).await;
            quarters += 1;
        }
        quarters
    });
    clock.run_until(end).await;
    assert_eq!(task.await.unwrap(), 92);
}

// --- SimClock: accelerated -------------------------------------------------------------------

#[test]
fn accelerated_rejects_bad_factors() {
    let t0 = ts("2026-01-01T00:00:00Z");
    for f in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        assert!(matches!(SimClock::accelerated(t0, f), Err(SimClockError::InvalidFactor(_))));
    }
}

#[test]
fn accelerated_time_runs_at_factor_times_real_time() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::accelerated(t0, 3600.0).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let elapsed = clock.now().duration_since(t0);
    // 20 ms real × 3600 = 72 s, with generous room for a busy machine.
    assert!(elapsed >= secs(72) && elapsed < secs(3600), "{elapsed:?}");
}

#[tokio::test]
async fn accelerated_sleep_waits_the_scaled_real_duration() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::accelerated(t0, 60_000.0).unwrap();
    let deadline = t0 + secs(120); // 2 ms of real time
    tokio::time::timeout(Duration::from_secs(5), clock.sleep_until(deadline)).await.unwrap();
    assert!(clock.now() >= deadline);
    assert_eq!(clock.pending_deadlines(), 0);
}

#[tokio::test]
async fn accelerated_jump_wakes_a_long_sleeper() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let clock = SimClock::accelerated(t0, 1.0).unwrap();
    let sleeper = clock.clone();
    let task = tokio::spawn(async move { sleeper.sleep_until(t0 + secs(86_400)).await });
    clock.settle().await;
    assert_eq!(clock.pending_deadlines(), 1);
    clock.advance(secs(86_400)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    assert!(clock.now() >= t0 + secs(86_400));
}

#[tokio::test]
async fn clocks_work_behind_arc_dyn() {
    let t0 = ts("2026-01-01T00:00:00Z");
    let sim = SimClock::new(t0);
    let clock: Arc<dyn Clock> = Arc::new(sim.clone());
    let task = tokio::spawn(async move { clock.sleep_until(t0 + secs(1)).await });
    sim.run_until(t0 + secs(1)).await;
    task.await.unwrap();
}
