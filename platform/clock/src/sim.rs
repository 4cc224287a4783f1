//! Simulated calendar time: manual, discrete-event and accelerated.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use crate::Clock;

/// `settle` stops after this many scheduler passes in a row in which no sleeper was registered,
/// resolved or dropped. Two passes, not one, because tokio's current-thread scheduler resumes
/// the driver after at most 61 tasks even if more are queued.
const QUIET_PASSES: u32 = 2;
/// `settle` also gives up after this many passes with a woken sleeper that nobody polls, so a
/// task that breaks the contract can make the run non-deterministic but cannot hang it.
const STALL_PASSES: u32 = 1000;

/// Simulated calendar time. This is a cheap handle: clones share one clock, and any task may
/// use it.
///
/// Time moves in one of three ways:
/// - **Manual** ([`SimClock::new`]): time stands still until [`advance`](SimClock::advance) or
///   [`set`](SimClock::set) moves it. Moving it wakes every sleeper that is now due. Call
///   [`settle`](SimClock::settle) afterwards to let the woken tasks run.
/// - **Discrete-event** (a manual clock driven by [`run_until`](SimClock::run_until) or
///   [`advance_to_next_deadline`](SimClock::advance_to_next_deadline)): time jumps from one
///   pending deadline to the next, as fast as the CPU allows. 22 hours of meters that tick every
///   second take 79 200 steps and no real waiting.
/// - **Accelerated** ([`SimClock::accelerated`]): time runs at `factor` × real time, for the TUI
///   and demos. Sleeps use tokio's timer for the scaled real duration, so they need a runtime
///   with time enabled. `advance`/`set` still jump it forward. A factor of "infinity" is not
///   offered: that is the discrete-event mode.
///
/// Time never goes backwards. Sleepers are woken in deadline order, and sleepers with equal
/// deadlines in registration order (a sleep registers when it is first polled). Dropping a sleep
/// future removes its registration.
///
/// # Determinism in discrete-event mode
///
/// [`run_until`](SimClock::run_until) repeats: settle, then jump to the earliest deadline and
/// wake its sleepers. Settling yields to tokio until every woken sleeper has resumed and two
/// scheduler passes went by with no sleep registered, resolved or dropped. The sequence of
/// `(time, task)` wake-ups is then a pure function of the tasks' code and start order, provided
/// the caller:
/// 1. uses a **current-thread** runtime (`#[tokio::test]`'s default, or
///    `Builder::new_current_thread`). A multi-thread runtime still makes progress, but a task
///    running on another worker can register its next sleep after the driver has jumped past it;
/// 2. moves time from one place only: the task that calls `run_until`;
/// 3. lets simulated tasks wait only on this clock's `sleep_until`, or on channels and locks fed
///    by other simulated tasks. Real I/O, tokio timers and `spawn_blocking` run on real time,
///    which the driver cannot see;
/// 4. spawns tasks in a fixed order (sort meters by id, do not iterate a `HashMap`). Start order
///    decides registration order, and registration order breaks ties between equal deadlines;
/// 5. takes times from [`Clock::now`] or from the previous deadline, never from the wall
///    clock, and seeds every random generator;
/// 6. does not keep a woken sleep future alive without polling it. `settle` waits for it, and
///    gives up after a bounded number of passes.
#[derive(Clone, Debug)]
pub struct SimClock {
    state: Arc<Mutex<State>>,
}

/// Why a [`SimClock`] refused to move or to be built.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SimClockError {
    /// The requested time is before the current one.
    #[error("simulated time cannot go backwards (now {now}, requested {requested})")]
    Backwards {
        /// The clock's time when asked.
        now: Timestamp,
        /// The earlier time requested.
        requested: Timestamp,
    },
    /// The requested time is outside the range a [`Timestamp`] can hold.
    #[error("simulated time would leave the representable range")]
    OutOfRange,
    /// The acceleration factor is not finite and positive.
    #[error("acceleration factor must be finite and > 0, got {0}")]
    InvalidFactor(f64),
}

#[derive(Debug)]
struct State {
    /// Simulated time at `pace.anchor`. For a manual clock, simply the current time.
    base: Timestamp,
    pace: Option<Pace>,
    /// Registered sleepers, keyed by deadline and then registration number. That key order is
    /// the wake order, and it gives FIFO among equal deadlines.
    sleepers: BTreeMap<(Timestamp, u64), Waker>,
    next_id: u64,
    /// Sleepers woken by a jump whose future has not yet resolved or been dropped: woken tasks
    /// that have not run yet.
    unobserved: usize,
    /// Bumped on every registration, resolution and drop, so `settle` can see a quiet pass.
    activity: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pace {
    /// Real instant at which simulated time was `State::base`.
    anchor: Instant,
    factor: f64,
}

impl State {
    fn now(&self) -> Timestamp {
        let Some(pace) = self.pace else { return self.base };
        let sim_secs = pace.anchor.elapsed().as_secs_f64() * pace.factor;
        SignedDuration::try_from_secs_f64(sim_secs)
            .ok()
            .and_then(|d| self.base.checked_add(d).ok())
            .unwrap_or(Timestamp::MAX)
    }

    /// The real instant at which an accelerated clock reaches `deadline`, or `None` if that is
    /// too far away to represent (then only a jump can wake the sleeper).
    fn real_instant(&self, pace: Pace, deadline: Timestamp) -> Option<Instant> {
        let sim_secs = deadline.duration_since(self.base).as_secs_f64().max(0.0);
        let real = Duration::try_from_secs_f64(sim_secs / pace.factor).ok()?;
        pace.anchor.checked_add(real)
    }

    /// Moves time to `to` (not before now), collecting the wakers of sleepers now due.
    fn jump(&mut self, to: Timestamp, wake: &mut Vec<Waker>) {
        self.base = to;
        if let Some(pace) = &mut self.pace {
            pace.anchor = Instant::now();
        }
        while let Some(entry) = self.sleepers.first_entry() {
            if entry.key().0 > to {
                break;
            }
            wake.push(entry.remove());
            self.unobserved += 1;
        }
        if self.pace.is_some() {
            // The jump moved the real instant of every remaining deadline earlier. Wake those
            // sleepers too, so they re-arm their timers. They stay registered.
            wake.extend(self.sleepers.values().cloned());
        }
    }

    /// A registered sleep resolved or was dropped.
    fn observe(&mut self, deadline: Timestamp, id: u64) {
        if self.sleepers.remove(&(deadline, id)).is_none() {
            // It was no longer registered, so a jump had woken it: its task has now run.
            self.unobserved = self.unobserved.saturating_sub(1);
        }
        self.activity = self.activity.wrapping_add(1);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // No user code runs under the lock (wakers are called after it is released) and every
    // update is complete before any call that could panic, so a poisoned state is still consistent.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimClock {
    /// A manual clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self::with_pace(start, None)
    }

    /// A clock that starts at `start` now and runs `factor` times faster than real time
    /// (`60.0`: a minute per second; `1.0`: real speed from a chosen start).
    pub fn accelerated(start: Timestamp, factor: f64) -> Result<Self, SimClockError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(SimClockError::InvalidFactor(factor));
        }
        Ok(Self::with_pace(start, Some(Pace { anchor: Instant::now(), factor })))
    }

    fn with_pace(start: Timestamp, pace: Option<Pace>) -> Self {
        let state = State {
            base: start,
            pace,
            sleepers: BTreeMap::new(),
            next_id: 0,
            unobserved: 0,
            activity: 0,
        };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    /// Moves time forward by `by` in one jump and wakes every sleeper now due. Sleepers in
    /// between are not stepped through one by one: use [`run_until`](SimClock::run_until) for that.
    pub fn advance(&self, by: SignedDuration) -> Result<(), SimClockError> {
        self.move_to(|now| now.checked_add(by).map_err(|_| SimClockError::OutOfRange))
    }

    /// Moves time to `to` in one jump, like [`advance`](SimClock::advance). Setting the current
    /// time is a no-op. An earlier time is refused.
    pub fn set(&self, to: Timestamp) -> Result<(), SimClockError> {
        self.move_to(|_| Ok(to))
    }

    fn move_to(
        &self,
        target: impl FnOnce(Timestamp) -> Result<Timestamp, SimClockError>,
    ) -> Result<(), SimClockError> {
        let mut wake = Vec::new();
        {
            let mut st = lock(&self.state);
            let now = st.now();
            let to = target(now)?;
            if to < now {
                return Err(SimClockError::Backwards { now, requested: to });
            }
            st.jump(to, &mut wake);
        }
        wake.into_iter().for_each(Waker::wake);
        Ok(())
    }

    /// Number of registered sleepers: polled at least once, not yet due, not dropped.
    pub fn pending_deadlines(&self) -> usize {
        lock(&self.state).sleepers.len()
    }

    #[cfg(test)]
    pub(crate) fn unobserved(&self) -> usize {
        lock(&self.state).unobserved
    }

    /// The earliest registered deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        lock(&self.state).sleepers.first_key_value().map(|(&(deadline, _), _)| deadline)
    }

    /// One discrete-event step: jumps to the earliest registered deadline (or stays, if that has
    /// already passed) and wakes its sleepers. Returns the new time, or `None` if nobody
    /// sleeps. Woken tasks only run once the caller yields. See [`settle`](SimClock::settle).
    pub fn advance_to_next_deadline(&self) -> Option<Timestamp> {
        self.step(None)
    }

    fn step(&self, limit: Option<Timestamp>) -> Option<Timestamp> {
        let mut wake = Vec::new();
        let to = {
            let mut st = lock(&self.state);
            let (&(next, _), _) = st.sleepers.first_key_value()?;
            if limit.is_some_and(|limit| next > limit) {
                return None;
            }
            let to = next.max(st.now());
            st.jump(to, &mut wake);
            to
        };
        wake.into_iter().for_each(Waker::wake);
        Some(to)
    }

    /// Yields to the tokio scheduler until every woken sleeper's task has run. Then, on a
    /// current-thread runtime, each simulated task is parked on its next sleep, finished, or
    /// waiting for something outside the clock. It also lets newly spawned tasks reach their
    /// first sleep.
    pub async fn settle(&self) {
        let (mut quiet, mut stalled) = (0, 0);
        while quiet < QUIET_PASSES && stalled < STALL_PASSES {
            let before = lock(&self.state).activity;
            tokio::task::yield_now().await;
            let st = lock(&self.state);
            if st.activity != before {
                (quiet, stalled) = (0, 0);
            } else if st.unobserved == 0 {
                quiet += 1;
            } else {
                stalled += 1;
            }
        }
    }

    /// Runs the simulation in discrete-event mode until `end`. It settles, jumps to the next
    /// deadline at or before `end`, wakes its sleepers, and repeats. When no deadline at or
    /// before `end` is left, it moves the clock to exactly `end` (unless already later).
    /// Returns the number of distinct deadlines stepped through.
    ///
    /// For a deterministic run, follow the rules in the [type docs](SimClock).
    pub async fn run_until(&self, end: Timestamp) -> usize {
        let mut steps = 0;
        loop {
            self.settle().await;
            if self.step(Some(end)).is_none() {
                break;
            }
            steps += 1;
        }
        // Nothing is due by `end`, so this wakes nobody. It just lands the clock on `end`.
        // It cannot fail, because the target is never earlier than now.
        let _ = self.move_to(|now| Ok(now.max(end)));
        steps
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        lock(&self.state).now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(SimSleep { state: &self.state, deadline, id: None, timer: None })
    }
}

/// The future behind [`SimClock::sleep_until`]. It registers on first poll and deregisters
/// when it resolves or is dropped.
struct SimSleep<'a> {
    state: &'a Mutex<State>,
    deadline: Timestamp,
    /// Registration number while registered (or woken but not yet observed).
    id: Option<u64>,
    /// Accelerated mode only: the real-time timer for the scaled deadline.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for SimSleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut st = lock(this.state);
        if st.now() >= this.deadline {
            if let Some(id) = this.id.take() {
                st.observe(this.deadline, id);
            }
            return Poll::Ready(());
        }
        match this.id {
            None => {
                let id = st.next_id;
                st.next_id += 1;
                st.sleepers.insert((this.deadline, id), cx.waker().clone());
                st.activity = st.activity.wrapping_add(1);
                this.id = Some(id);
            }
            // Always present: an entry leaves the map only when time reaches the deadline,
            // and time never goes back.
            Some(id) => {
                if let Some(waker) = st.sleepers.get_mut(&(this.deadline, id)) {
                    waker.clone_from(cx.waker());
                }
            }
        }
        let at = st.pace.and_then(|pace| st.real_instant(pace, this.deadline));
        drop(st);
        if let Some(at) = at {
            let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            if timer.deadline() != at {
                timer.as_mut().reset(at);
            }
            if timer.as_mut().poll(cx).is_ready() {
                // The timer fired a hair before the scaled clock reached the deadline (f64
                // rounding). Poll again. tokio's 1 ms tick makes this rare and short.
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}

impl Drop for SimSleep<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            lock(self.state).observe(self.deadline, id);
        }
    }
}
