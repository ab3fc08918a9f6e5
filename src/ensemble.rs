//! Which sequences a variant is scored from (conventions.md "Ensembles"): per window role (R, A and, for
//! indels, A′), one window per shift and strand. Every member is an ordinary sequence with its own key, so
//! check-cache, predict and the workflows' DAG-level skip treat it like any other; `merge` averages the
//! members of each role.

/// The role a window plays in a variant's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// R: the reference window.
    Ref,
    /// A: the alt haplotype over the same coordinates as R (upstream of the variant lines up with R).
    Alt,
    /// A′: the alt haplotype moved by Δ = len(ALT) − len(REF) (downstream of the variant lines up with R).
    AltShifted,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Ref, Role::Alt, Role::AltShifted];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ref => "ref",
            Role::Alt => "alt",
            Role::AltShifted => "alt_shifted",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strand {
    Forward,
    /// The reverse complement of the forward window; its prediction is flipped along bins before use.
    Reverse,
}

impl Strand {
    pub fn as_str(self) -> &'static str {
        match self {
            Strand::Forward => "+",
            Strand::Reverse => "-",
        }
    }

    pub fn parse(s: &str) -> Option<Strand> {
        match s {
            "+" => Some(Strand::Forward),
            "-" => Some(Strand::Reverse),
            _ => None,
        }
    }
}

/// One sequence of a variant's ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub role: Role,
    pub shift: i32,
    pub strand: Strand,
    pub seq_id: String,
}

/// The largest shift accepted: a few bins. Shifts are for averaging out the bin grid, not for moving the
/// variant out of its bin neighbourhood.
pub const MAX_SHIFT: i32 = 1024;

/// `--rc` and `--shifts`: the same for every variant of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    rc: bool,
    shifts: Vec<i32>,
}

impl Default for Ensemble {
    fn default() -> Self {
        Ensemble { rc: false, shifts: vec![0] }
    }
}

impl Ensemble {
    /// One shift's bound: within ±[`MAX_SHIFT`] bp (the command line checks each value with this as it parses).
    pub fn check_shift(t: i32) -> Result<i32, String> {
        if t.abs() <= MAX_SHIFT {
            Ok(t)
        } else {
            Err(format!("shift {t} is outside ±{MAX_SHIFT} bp"))
        }
    }

    /// Shifts must be distinct, within ±[`MAX_SHIFT`], and at least one.
    pub fn new(rc: bool, shifts: Vec<i32>) -> Result<Self, String> {
        if shifts.is_empty() {
            return Err("--shifts needs at least one shift (0 is the plain window)".into());
        }
        for &t in &shifts {
            Self::check_shift(t)?;
        }
        let mut seen = shifts.clone();
        seen.sort_unstable();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("shift {} is given twice", w[0]));
        }
        Ok(Ensemble { rc, shifts })
    }

    pub fn rc(&self) -> bool {
        self.rc
    }

    pub fn shifts(&self) -> &[i32] {
        &self.shifts
    }

    /// No reverse complement and the single shift 0: the legacy tool's two windows per SNV.
    pub fn is_plain(&self) -> bool {
        !self.rc && self.shifts == [0]
    }

    pub fn strands(&self) -> &'static [Strand] {
        if self.rc {
            &[Strand::Forward, Strand::Reverse]
        } else {
            &[Strand::Forward]
        }
    }

    /// Sequences per role: shifts × strands.
    pub fn members_per_role(&self) -> usize {
        self.shifts.len() * self.strands().len()
    }

    /// `-1,0,1` as written in metadata and accepted by `--shifts`.
    pub fn shifts_text(&self) -> String {
        self.shifts.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_are_validated() {
        assert!(Ensemble::new(false, vec![0, 0]).unwrap_err().contains("twice"));
        assert!(Ensemble::new(false, vec![5000]).unwrap_err().contains("outside"));
        assert!(Ensemble::new(true, vec![]).is_err());
        let e = Ensemble::new(true, vec![-1, 0, 1]).unwrap();
        assert_eq!((e.members_per_role(), e.shifts_text(), e.is_plain()), (6, "-1,0,1".to_string(), false));
        assert!(Ensemble::default().is_plain());
        assert_eq!(Role::parse("alt_shifted"), Some(Role::AltShifted));
        assert_eq!(Strand::parse("-"), Some(Strand::Reverse));
    }
}
