//! Picks the loci the report zooms into: greedily, the most significant scored variant not yet in a locus
//! becomes a lead, and its locus is every scored variant within `radius` bp on its chromosome (at least
//! `min_members` of them: two when only the scores are at hand, or a view says nothing; one when the input
//! rows around it are read too, and the caller drops loci that stay alone).

use super::data::Variant;

#[derive(Debug, Clone, PartialEq)]
pub struct Locus {
    pub chrom: String,
    pub start: i64,
    pub end: i64,
    /// Index of the lead variant in the variant list.
    pub lead: usize,
    /// Indices of the variants in the region, the lead among them.
    pub members: Vec<usize>,
}

pub fn pick(variants: &[Variant], max: usize, radius: u64, min_members: usize) -> Vec<Locus> {
    let radius = radius.min(i64::MAX as u64 / 4) as i64;
    let mut order: Vec<usize> = (0..variants.len()).collect();
    let key = |v: &Variant| v.neg_log10_p().unwrap_or(f64::NEG_INFINITY);
    order.sort_by(|&a, &b| key(&variants[b]).total_cmp(&key(&variants[a])).then(a.cmp(&b)));
    let mut out: Vec<Locus> = Vec::new();
    for lead in order {
        if out.len() >= max {
            break;
        }
        let v = &variants[lead];
        if v.neg_log10_p().is_none() {
            break;
        }
        if out.iter().any(|l| l.chrom == v.chrom && (l.start..=l.end).contains(&v.pos)) {
            continue;
        }
        let (start, end) = (v.pos.saturating_sub(radius).max(0), v.pos.saturating_add(radius));
        let members: Vec<usize> = (0..variants.len())
            .filter(|&i| variants[i].chrom == v.chrom && (start..=end).contains(&variants[i].pos))
            .collect();
        if members.len() >= min_members.max(1) {
            out.push(Locus { chrom: v.chrom.clone(), start, end, lead, members });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(chrom: &str, pos: i64, p: Option<f64>) -> Variant {
        Variant {
            id: None,
            chrom: chrom.into(),
            pos,
            ref_allele: "A".into(),
            alt_allele: "G".into(),
            pvalue: p,
            beta: None,
            top: None,
            classes: vec![],
        }
    }

    #[test]
    fn leads_by_p_value_without_overlap_and_with_company() {
        let vs = vec![
            v("1", 1000, Some(1e-8)),
            v("1", 1500, Some(1e-6)),
            v("1", 50_000, Some(1e-7)),
            v("1", 50_100, Some(0.5)),
            v("2", 10, Some(1e-9)),
            v("3", 10, None),
        ];
        let l = pick(&vs, 5, 1000, 2);
        assert_eq!(l.len(), 2, "{l:?}");
        assert_eq!((l[0].lead, l[0].members.clone()), (0, vec![0, 1]));
        assert_eq!((l[1].lead, l[1].members.clone()), (2, vec![2, 3]));
        assert_eq!(pick(&vs, 1, 1000, 2).len(), 1);
        assert!(pick(&[], 3, 10, 2).is_empty());
        // Alone in its window: a locus only when the input rows around it may keep it company.
        assert_eq!(pick(&vs, 5, 1000, 1).iter().map(|l| l.lead).collect::<Vec<_>>(), vec![4, 0, 2]);
    }
}
