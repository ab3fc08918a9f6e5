//! predict's model stage for a split model (`model::split`).
//!
//! Every call has exactly `--batch-size` rows (padded like the monolithic path, so an entry's bytes depend only
//! on its windows, the model and the batch size); the reader gives a batch up to `--batch-size` windows of each
//! kind (with and without a base: a shard's reference and alt windows alternate, so usually exactly that many
//! of each), so no call is mostly padding. A batch runs:
//! 1. the tower on the windows without a base (references, indel windows); their tower outputs are kept a
//!    while, as the alt windows that derive from them follow them in the table;
//! 2. the tower on the bases that are not at hand (cached earlier, in another shard or evicted), each rebuilt
//!    from its derived window and the base's bytes over the span, so a resumed or re-sharded run computes the
//!    very same base tower output as an uninterrupted one;
//! 3. the tower on each substitution's grid-aligned sub-window (one call per sub-window length), its kept
//!    positions spliced into a copy of the base's tower output;
//! 4. the rest on every window's tower output.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::cache::NEncoding;
use crate::model::split::{Patch, SplitModel};
use crate::model::{onehot, ModelError};
use crate::substitution::Substitution;

/// Runs `n` rows of `input` in calls of exactly `batch_size` rows, the last padded with copies of its last row
/// whose outputs are dropped (see `run_full_batch` for why the call shape is fixed).
pub(super) fn padded(
    input: &[f32],
    n: usize,
    batch_size: usize,
    mut run: impl FnMut(&[f32], usize) -> Result<Vec<f32>, ModelError>,
) -> Result<Vec<f32>, ModelError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let per = input.len() / n;
    let mut outputs = Vec::new();
    for chunk in input.chunks(per * batch_size) {
        let k = chunk.len() / per;
        if k == batch_size {
            outputs.extend(run(chunk, k)?);
            continue;
        }
        let mut rows = Vec::with_capacity(per * batch_size);
        rows.extend_from_slice(chunk);
        for _ in k..batch_size {
            rows.extend_from_slice(&chunk[(k - 1) * per..]);
        }
        let out = run(&rows, batch_size)?;
        outputs.extend_from_slice(&out[..out.len() / batch_size * k]);
    }
    Ok(outputs)
}

/// Tower outputs of recent base windows, oldest evicted first. A derived window whose base was evicted still
/// gets the same numbers (its base is recomputed), only slower.
pub(super) struct TowerStore {
    capacity: usize,
    order: VecDeque<String>,
    map: HashMap<String, Arc<Vec<f32>>>,
}

impl TowerStore {
    pub fn new(capacity: usize) -> Self {
        TowerStore { capacity: capacity.max(1), order: VecDeque::new(), map: HashMap::new() }
    }

    fn get(&self, id: &str) -> Option<Arc<Vec<f32>>> {
        self.map.get(id).cloned()
    }

    fn insert(&mut self, id: &str, tower: Arc<Vec<f32>>) {
        if self.map.insert(id.to_string(), tower).is_none() {
            self.order.push_back(id.to_string());
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// One sequence of a batch.
pub(super) struct Item<'a> {
    pub id: &'a str,
    pub onehot: &'a [f32],
    /// Validated by the reader: the span lies in the window and rebuilds the base's key.
    pub base: Option<&'a Substitution>,
}

/// What a batch did, for the summary.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SplitCounts {
    /// Windows whose tower output came from their base's by a patch.
    pub patched: u64,
    /// Bases whose tower output was recomputed because it was not at hand.
    pub bases_recomputed: u64,
}

/// The heads' outputs (`bins * tracks` floats per item, in item order).
pub(super) fn compute(
    model: &mut SplitModel,
    store: &mut TowerStore,
    items: &[Item],
    batch_size: usize,
    n_enc: NEncoding,
) -> Result<(Vec<f32>, SplitCounts), ModelError> {
    let (window, stride, channels, per) = (model.window, model.stride, model.channels, model.tower_len());
    let mut counts = SplitCounts::default();
    let mut towers: Vec<Option<Arc<Vec<f32>>>> = vec![None; items.len()];
    let concat = |rows: &mut dyn Iterator<Item = &[f32]>| rows.flatten().copied().collect::<Vec<f32>>();

    // 1. Windows without a base: the whole tower.
    let full: Vec<usize> = (0..items.len()).filter(|&i| items[i].base.is_none()).collect();
    if !full.is_empty() {
        let input = concat(&mut full.iter().map(|&i| items[i].onehot));
        let out = padded(&input, full.len(), batch_size, |x, b| model.tower(x, b, window))?;
        for (&i, t) in full.iter().zip(out.chunks_exact(per)) {
            let t = Arc::new(t.to_vec());
            store.insert(items[i].id, t.clone());
            towers[i] = Some(t);
        }
    }

    // 2. Bases not at hand, rebuilt from the derived window (one-hot of the base's bytes over the span).
    let mut bases: HashMap<&str, Arc<Vec<f32>>> = HashMap::new();
    let mut rebuilt: Vec<(&str, Vec<f32>)> = Vec::new();
    for item in items {
        let Some(b) = item.base else { continue };
        let id = b.base_seq_id.as_str();
        if bases.contains_key(id) || rebuilt.iter().any(|(k, _)| *k == id) {
            continue;
        }
        match store.get(id) {
            Some(t) => {
                bases.insert(id, t);
            }
            None => {
                let mut x = item.onehot.to_vec();
                let span = b.span();
                onehot::encode_into(&b.base_bases, n_enc, &mut x[span.start * 4..span.end * 4]);
                rebuilt.push((id, x));
            }
        }
    }
    if !rebuilt.is_empty() {
        let input = concat(&mut rebuilt.iter().map(|(_, x)| x.as_slice()));
        let out = padded(&input, rebuilt.len(), batch_size, |x, b| model.tower(x, b, window))?;
        for ((id, _), t) in rebuilt.iter().zip(out.chunks_exact(per)) {
            let t = Arc::new(t.to_vec());
            store.insert(id, t.clone());
            bases.insert(id, t);
        }
        counts.bases_recomputed += rebuilt.len() as u64;
    }

    // 3. Patches, one call per sub-window length.
    let mut by_len: HashMap<usize, Vec<(usize, Patch, &str)>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(b) = item.base {
            let p = model.patch(&b.span());
            by_len.entry(p.sub.len()).or_default().push((i, p, b.base_seq_id.as_str()));
        }
    }
    let mut lens: Vec<usize> = by_len.keys().copied().collect();
    lens.sort_unstable(); // a fixed call order, whatever the hash map's
    for len in lens {
        let group = &by_len[&len];
        let input = concat(
            &mut group.iter().map(|(i, p, _)| &items[*i].onehot[p.sub.start * stride * 4..p.sub.end * stride * 4]),
        );
        let out = padded(&input, group.len(), batch_size, |x, b| model.tower(x, b, len * stride))?;
        for ((i, p, base_id), sub) in group.iter().zip(out.chunks_exact(len * channels)) {
            let Some(base) = bases.get(base_id) else {
                return Err(ModelError::Run(format!("internal: no tower output for base {base_id}")));
            };
            let mut t = base.as_ref().clone();
            let from = (p.kept.start - p.sub.start) * channels;
            t[p.kept.start * channels..p.kept.end * channels]
                .copy_from_slice(&sub[from..from + p.kept.len() * channels]);
            towers[*i] = Some(Arc::new(t));
            counts.patched += 1;
        }
    }

    // 4. The rest on every tower output.
    let input = concat(&mut towers.iter().map(|t| t.as_ref().map(|t| t.as_slice()).unwrap_or_default()));
    if input.len() != items.len() * per {
        return Err(ModelError::Run("internal: a window has no tower output".into()));
    }
    Ok((padded(&input, items.len(), batch_size, |x, b| model.rest(x, b))?, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_gives_the_call_its_fixed_shape_and_drops_the_copies() {
        let calls = std::cell::RefCell::new(Vec::new());
        let run = |x: &[f32], b: usize| {
            calls.borrow_mut().push((x.to_vec(), b));
            Ok(x.iter().map(|v| v * 10.0).collect())
        };
        assert_eq!(padded(&[1.0, 2.0], 2, 4, run).unwrap(), vec![10.0, 20.0]);
        assert_eq!(calls.borrow()[0], (vec![1.0, 2.0, 2.0, 2.0], 4));
        assert_eq!(padded(&[1.0, 2.0, 3.0], 3, 2, run).unwrap(), vec![10.0, 20.0, 30.0]);
        assert_eq!(calls.borrow()[1..], [(vec![1.0, 2.0], 2), (vec![3.0, 3.0], 2)]);
    }

    #[test]
    fn the_store_keeps_the_newest() {
        let mut s = TowerStore::new(2);
        for id in ["a", "b", "a", "c"] {
            s.insert(id, Arc::new(vec![0.0]));
        }
        assert!(s.get("a").is_none(), "the oldest goes first, a re-insert does not refresh it");
        assert!(s.get("b").is_some() && s.get("c").is_some());
    }
}
