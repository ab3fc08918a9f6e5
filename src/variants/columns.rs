//! Column roles, header synonyms and `--columns` overrides.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::InputError;

/// What a table column is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Chrom,
    Pos,
    Id,
    EffectAllele,
    OtherAllele,
    Beta,
    Se,
    Pvalue,
    /// Used for beta = ln(OR) when there is no beta column.
    OddsRatio,
    /// -log10(p), used for p = 10^-x when there is no p-value column.
    NegLog10P,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Chrom,
        Role::Pos,
        Role::Id,
        Role::EffectAllele,
        Role::OtherAllele,
        Role::Beta,
        Role::Se,
        Role::Pvalue,
        Role::OddsRatio,
        Role::NegLog10P,
    ];

    /// The `--columns` key.
    pub fn key(self) -> &'static str {
        match self {
            Role::Chrom => "chrom",
            Role::Pos => "pos",
            Role::Id => "id",
            Role::EffectAllele => "effect_allele",
            Role::OtherAllele => "other_allele",
            Role::Beta => "beta",
            Role::Se => "se",
            Role::Pvalue => "pvalue",
            Role::OddsRatio => "odds_ratio",
            Role::NegLog10P => "neg_log10_p",
        }
    }

    /// Other spellings accepted as `--columns` keys.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Chrom => &["chr", "chromosome"],
            Role::Pos => &["bp", "position"],
            Role::Id => &["snp", "rsid", "marker"],
            Role::EffectAllele => &["ea", "a1"],
            Role::OtherAllele => &["oa", "a2", "nea"],
            Role::Beta => &[],
            Role::Se => &[],
            Role::Pvalue => &["p", "pval", "p_value"],
            Role::OddsRatio => &["or"],
            Role::NegLog10P => &["lp", "log10p", "mlog10p"],
        }
    }

    /// Normalized header names recognised for this role, in order of preference.
    pub fn synonyms(self) -> &'static [&'static str] {
        match self {
            Role::Chrom => &["CHR", "CHROM", "CHROMOSOME", "CHR_NAME", "HM_CHROM", "CHROM_NAME"],
            Role::Pos => {
                &["BP", "POS", "POSITION", "BASE_PAIR_LOCATION", "BP_HG19", "BP_B37", "HM_POS", "PS", "GENPOS"]
            }
            Role::Id => &[
                "SNP",
                "MARKERNAME",
                "MARKER",
                "RSID",
                "RS_ID",
                "RS",
                "ID",
                "SNPID",
                "SNP_ID",
                "VARIANT_ID",
                "HM_RSID",
                "MARKERID",
            ],
            Role::EffectAllele => &[
                "EFFECT_ALLELE",
                "A1",
                "EA",
                "ALLELE1",
                "ALLELE_1",
                "TESTED_ALLELE",
                "RISK_ALLELE",
                "EFFECT_ALLELE_1",
                "HM_EFFECT_ALLELE",
                "ALT",
                "CODED_ALLELE",
            ],
            Role::OtherAllele => &[
                "NON_EFFECT_ALLELE",
                "NONEFFECT_ALLELE",
                "OTHER_ALLELE",
                "A2",
                "NEA",
                "OA",
                "ALLELE2",
                "ALLELE_2",
                "ALLELE0",
                "REF_ALLELE",
                "HM_OTHER_ALLELE",
                "REF",
                "NON_CODED_ALLELE",
                "NONCODED_ALLELE",
            ],
            Role::Beta => &["BETA", "EFFECT", "B", "ES", "LOG_ODDS", "EFFECT_SIZE", "HM_BETA"],
            Role::Se => &["SE", "STDERR", "STANDARD_ERROR", "SEBETA", "SE_BETA", "STD_ERR", "LOG(OR)_SE"],
            Role::Pvalue => &[
                "P",
                "PVAL",
                "PVALUE",
                "P_VALUE",
                "P_VAL",
                "PVAL_NOMINAL",
                "P_BOLT_LMM",
                "P_BOLT_LMM_INF",
                "FREQUENTIST_ADD_PVALUE",
            ],
            Role::OddsRatio => &["OR", "ODDS_RATIO", "ODDSRATIO", "HM_ODDS_RATIO"],
            Role::NegLog10P => &["LP", "LOG10P", "NEG_LOG10_PVALUE", "MLOG10P", "NEG_LOG_10_P_VALUE", "LOG10_P"],
        }
    }

    fn from_key(key: &str) -> Option<Role> {
        let key = key.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL.into_iter().find(|r| r.key() == key || r.aliases().contains(&key.as_str()))
    }
}

/// Case-insensitive header matching, with `.`, `-` and ` ` treated like `_`.
pub(crate) fn normalize(name: &str) -> String {
    name.trim().chars().map(|c| if matches!(c, '.' | '-' | ' ') { '_' } else { c.to_ascii_uppercase() }).collect()
}

/// Explicit column choices from `--columns`, e.g. `chrom=CHR,pos=BP,effect_allele=A1,other_allele=A2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnOverrides {
    columns: Vec<(Role, String)>,
}

impl ColumnOverrides {
    /// The column named for `role`, if any.
    pub fn get(&self, role: Role) -> Option<&str> {
        self.columns.iter().find(|(r, _)| *r == role).map(|(_, c)| c.as_str())
    }

    /// Sets (or replaces) the column for `role`.
    pub fn set(&mut self, role: Role, column: impl Into<String>) {
        self.columns.retain(|(r, _)| *r != role);
        self.columns.push((role, column.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// A malformed `--columns` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --columns value '{spec}': {reason}")]
pub struct ColumnsSpecError {
    pub spec: String,
    pub reason: String,
}

fn valid_keys() -> String {
    let keys: Vec<String> = Role::ALL
        .iter()
        .map(|r| match r.aliases() {
            [] => r.key().to_string(),
            a => format!("{} (or {})", r.key(), a.join("/")),
        })
        .collect();
    keys.join(", ")
}

impl FromStr for ColumnOverrides {
    type Err = ColumnsSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ColumnsSpecError { spec: spec.to_string(), reason };
        let mut out = ColumnOverrides::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, column)) = item.split_once('=') else {
                return Err(err(format!("'{item}' is not KEY=COLUMN (example: chrom=CHR,pos=BP)")));
            };
            let Some(role) = Role::from_key(key) else {
                return Err(err(format!("unknown key '{}'; valid keys: {}", key.trim(), valid_keys())));
            };
            let column = column.trim();
            if column.is_empty() {
                return Err(err(format!("no column name after '{}='", key.trim())));
            }
            if out.get(role).is_some() {
                return Err(err(format!("'{}' is given twice", role.key())));
            }
            out.set(role, column);
        }
        Ok(out)
    }
}

impl fmt::Display for ColumnOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.columns.iter().map(|(r, c)| format!("{}={c}", r.key())).collect();
        f.write_str(&items.join(","))
    }
}

/// Column index per role, decided from the header (and overrides).
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnMap {
    index: [Option<usize>; Role::ALL.len()],
    overridden: Vec<Role>,
}

impl ColumnMap {
    pub fn get(&self, role: Role) -> Option<usize> {
        self.index[role as usize]
    }

    pub fn is_overridden(&self, role: Role) -> bool {
        self.overridden.contains(&role)
    }

    /// Applies overrides, then synonyms (first synonym in list order wins; a column is used for one role only).
    /// `skip` roles are left unmapped unless overridden.
    pub fn build(
        path: &Path,
        line: u64,
        header: &[String],
        overrides: &ColumnOverrides,
        skip: &[Role],
    ) -> Result<ColumnMap, InputError> {
        let normalized: Vec<String> = header.iter().map(|h| normalize(h)).collect();
        let mut map = ColumnMap::default();
        let mut claimed = vec![false; header.len()];
        for role in Role::ALL {
            let Some(column) = overrides.get(role) else { continue };
            let found = header.iter().position(|h| h == column).or_else(|| {
                let n = normalize(column);
                normalized.iter().position(|h| *h == n)
            });
            let Some(i) = found else {
                return Err(InputError::OverrideColumnAbsent {
                    path: path.to_path_buf(),
                    line,
                    key: role.key(),
                    column: column.to_string(),
                    header: header.to_vec(),
                });
            };
            map.index[role as usize] = Some(i);
            map.overridden.push(role);
            claimed[i] = true;
        }
        for role in Role::ALL {
            if map.get(role).is_some() || skip.contains(&role) {
                continue;
            }
            let found = role
                .synonyms()
                .iter()
                .find_map(|syn| normalized.iter().enumerate().position(|(i, n)| n == syn && !claimed[i]));
            if let Some(i) = found {
                map.index[role as usize] = Some(i);
                claimed[i] = true;
            }
        }
        Ok(map)
    }

    /// Roles among `required` that have no column.
    pub fn missing(&self, required: &[Role]) -> Vec<&'static str> {
        required.iter().filter(|r| self.get(**r).is_none()).map(|r| r.key()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &str) -> Vec<String> {
        names.split(' ').map(str::to_string).collect()
    }

    fn build(names: &str, overrides: &ColumnOverrides) -> Result<ColumnMap, InputError> {
        ColumnMap::build(Path::new("in.tsv"), 1, &header(names), overrides, &[])
    }

    #[test]
    fn parse_overrides() {
        let o: ColumnOverrides = "chrom=CHR, pos=BP,id=SNP,ea=A1,oa=A2,beta=BETA,se=SE,p=P".parse().unwrap();
        assert_eq!(o.get(Role::Chrom), Some("CHR"));
        assert_eq!(o.get(Role::EffectAllele), Some("A1"));
        assert_eq!(o.get(Role::Pvalue), Some("P"));
        let o: ColumnOverrides = "a1=x,a2=y,snp=z,bp=w,chr=v,or=OR,lp=LP".parse().unwrap();
        assert_eq!(o.get(Role::OtherAllele), Some("y"));
        assert_eq!(o.get(Role::Id), Some("z"));
        assert_eq!(o.get(Role::NegLog10P), Some("LP"));
        assert_eq!(o.to_string(), "effect_allele=x,other_allele=y,id=z,pos=w,chrom=v,odds_ratio=OR,neg_log10_p=LP");
        assert!(ColumnOverrides::from_str("").unwrap().is_empty());
    }

    #[test]
    fn bad_overrides() {
        let e = ColumnOverrides::from_str("chrom=CHR,foo=BAR").unwrap_err().to_string();
        assert!(e.contains("unknown key 'foo'") && e.contains("effect_allele") && e.contains("pvalue"), "{e}");
        assert!(ColumnOverrides::from_str("chrom").is_err());
        assert!(ColumnOverrides::from_str("chrom=").is_err());
        assert!(ColumnOverrides::from_str("chr=A,chrom=B").is_err());
    }

    #[test]
    fn synonyms_and_normalization() {
        let m = build("MarkerName CHR POS A1 A2 EAF Beta SE Pval", &ColumnOverrides::default()).unwrap();
        let got: Vec<Option<usize>> = Role::ALL.iter().map(|r| m.get(*r)).collect();
        assert_eq!(got, [Some(1), Some(2), Some(0), Some(3), Some(4), Some(6), Some(7), Some(8), None, None]);
        let m = build("chr.name base-pair_location rs.id p.value b beta", &ColumnOverrides::default()).unwrap();
        assert_eq!((m.get(Role::Chrom), m.get(Role::Pos), m.get(Role::Id)), (Some(0), Some(1), Some(2)));
        assert_eq!((m.get(Role::Pvalue), m.get(Role::Beta)), (Some(3), Some(5))); // BETA before B
        assert_eq!(m.missing(&[Role::Chrom, Role::EffectAllele, Role::OtherAllele]), ["effect_allele", "other_allele"]);
    }

    #[test]
    fn overrides_win_and_claim() {
        let o: ColumnOverrides = "pos=POS_B38,effect_allele=A2,other_allele=a1".parse().unwrap();
        let m = build("CHR BP POS_B38 A1 A2", &o).unwrap();
        assert_eq!(
            (m.get(Role::Pos), m.get(Role::EffectAllele), m.get(Role::OtherAllele)),
            (Some(2), Some(4), Some(3))
        );
        assert!(m.is_overridden(Role::Pos) && !m.is_overridden(Role::Chrom));
        let o: ColumnOverrides = "pos=NOPE".parse().unwrap();
        let e = build("CHR BP A1 A2", &o).unwrap_err().to_string();
        assert!(e.contains("NOPE") && e.contains("CHR, BP, A1, A2") && e.contains("in.tsv"), "{e}");
    }
}
