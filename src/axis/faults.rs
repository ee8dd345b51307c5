//! Fault injection for the mock axis: drop a share of requests (before or after they are
//! processed, so the caller cannot tell whether they took effect), answer a share with 503,
//! delay requests, and put a share of deliveries in the inbox twice. Pure: the caller rolls the
//! dice (uniform numbers in `[0, 1)`).

use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Share of requests whose connection is cut (half before, half after processing).
    pub drop: f64,
    /// Share of requests answered 503 without processing.
    pub fail_5xx: f64,
    /// Each request waits a uniform random time up to this long.
    pub max_delay: Duration,
    /// Share of deliveries stored twice (two axis ids, one packet).
    pub duplicate: f64,
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Serve,
    Fail5xx,
    /// Cut the connection without processing.
    DropRequest,
    /// Process, then cut the connection instead of answering.
    DropResponse,
}

impl Faults {
    pub fn is_off(&self) -> bool {
        self.drop <= 0.0 && self.fail_5xx <= 0.0 && self.max_delay.is_zero() && self.duplicate <= 0.0
    }

    pub fn outcome(&self, roll: f64) -> Outcome {
        let fail = self.fail_5xx.clamp(0.0, 1.0);
        let drop = self.drop.clamp(0.0, 1.0);
        if roll < fail {
            Outcome::Fail5xx
        } else if roll < fail + drop / 2.0 {
            Outcome::DropRequest
        } else if roll < fail + drop {
            Outcome::DropResponse
        } else {
            Outcome::Serve
        }
    }

    pub fn delay(&self, roll: f64) -> Duration {
        self.max_delay.mul_f64(roll.clamp(0.0, 1.0))
    }

    pub fn duplicate(&self, roll: f64) -> bool {
        roll < self.duplicate.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_split_the_unit_interval() {
        let f = Faults {
            drop: 0.2,
            fail_5xx: 0.1,
            max_delay: Duration::from_millis(100),
            duplicate: 0.5,
        };
        assert_eq!(f.outcome(0.05), Outcome::Fail5xx);
        assert_eq!(f.outcome(0.15), Outcome::DropRequest);
        assert_eq!(f.outcome(0.25), Outcome::DropResponse);
        assert_eq!(f.outcome(0.35), Outcome::Serve);
        assert_eq!(f.delay(0.5), Duration::from_millis(50));
        assert!(f.duplicate(0.4) && !f.duplicate(0.6));
        assert!(Faults::default().is_off());
        assert_eq!(Faults::default().outcome(0.0), Outcome::Serve);
    }
}
