//! The report's figures as inline SVG strings, drawn with plotters: the genome-wide overview, the effect
//! distribution per assay class, and one locus view per locus. Text in them is escaped by plotters' SVG
//! backend, so user-supplied chromosome names and variant IDs cannot break the page.

use plotters::prelude::*;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::Variant;
use crate::figure::{err, fonts, FONT, PALETTE};

const WIDTH: u32 = 1000;

/// Genome-wide overview: GWAS −log10 p (top) and the strongest |effect| (bottom) against the position on a
/// genome made of the chromosomes in order of appearance, alternately coloured. Decimated to the highest
/// point per pixel column and chromosome, so the SVG stays small whatever the number of variants.
pub fn overview(variants: &[Variant], stat: &str) -> Result<String, String> {
    fonts();
    let (offsets, total) = chromosome_offsets(variants);
    let total = total.max(1) as f64;
    let x_of = |v: &Variant| -> f64 {
        let (_, off, _) = offsets.iter().find(|(c, _, _)| *c == v.chrom).expect("every chromosome has an offset");
        (*off + v.pos.max(0) as u64) as f64
    };
    let chrom_index = |v: &Variant| offsets.iter().position(|(c, _, _)| *c == v.chrom).unwrap_or(0);
    let p_points = decimate(variants.iter().filter_map(|v| Some((x_of(v), v.neg_log10_p()?, chrom_index(v)))), total);
    let e_points =
        decimate(variants.iter().filter_map(|v| Some((x_of(v), v.top.as_ref()?.abs as f64, chrom_index(v)))), total);
    let mids: Vec<(f64, &str)> =
        offsets.iter().map(|(c, off, len)| (*off as f64 + *len as f64 / 2.0, c.as_str())).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (upper, lower) = root.split_vertically(200);
        let mut label_at: Vec<(i32, i32)> = Vec::new();
        for (area, points, y_desc, colours) in [
            (&upper, &p_points, "GWAS −log10 p".to_string(), [PALETTE[0], PALETTE[5]]),
            (&lower, &e_points, format!("max |{stat}|"), [PALETTE[1], PALETTE[4]]),
        ] {
            let ymax = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1e-6) * 1.05;
            let mut chart = ChartBuilder::on(area)
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(64)
                .build_cartesian_2d(0f64..total, 0f64..ymax)
                .map_err(err)?;
            // Chromosome names, not base positions, label the x axis: drawn below at each one's middle.
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_desc(y_desc)
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(points.iter().map(|&(x, y, c)| Circle::new((x, y), 2, colours[c % 2].filled())))
                .map_err(err)?;
            label_at = mids.iter().map(|(m, _)| chart.backend_coord(&(*m, 0.0))).collect();
        }
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for ((_, name), (x, y)) in mids.iter().zip(label_at) {
            root.draw(&Text::new(name.to_string(), (x, y + 6), style.clone())).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Chromosomes in natural order (1, 2, …, 10, …, X, Y, then other names): (name, offset on the concatenated
/// axis, length seen).
fn chromosome_offsets(variants: &[Variant]) -> (Vec<(String, u64, u64)>, u64) {
    let mut out: Vec<(String, u64, u64)> = Vec::new();
    for v in variants {
        let end = v.pos.max(0) as u64 + 1;
        match out.iter_mut().find(|(c, _, _)| *c == v.chrom) {
            Some(e) => e.2 = e.2.max(end),
            None => out.push((v.chrom.clone(), 0, end)),
        }
    }
    out.sort_by_key(|e| chromosome_key(&e.0));
    let mut off = 0;
    for e in &mut out {
        e.1 = off;
        off += e.2;
    }
    (out, off)
}

fn chromosome_key(name: &str) -> (u8, u64, String) {
    let bare = name.strip_prefix("chr").unwrap_or(name);
    match (bare.parse::<u64>(), bare) {
        (Ok(n), _) => (0, n, String::new()),
        (_, "X") => (1, 0, String::new()),
        (_, "Y") => (1, 1, String::new()),
        (_, "M" | "MT") => (1, 2, String::new()),
        _ => (2, 0, name.to_string()),
    }
}

/// The highest point per pixel column (of [`WIDTH`]) and chromosome.
fn decimate(points: impl Iterator<Item = (f64, f64, usize)>, total: f64) -> Vec<(f64, f64, usize)> {
    let mut best: std::collections::HashMap<(usize, usize), (f64, f64, usize)> = std::collections::HashMap::new();
    for p in points.filter(|p| p.1.is_finite()) {
        let col = ((p.0 / total) * WIDTH as f64) as usize;
        let e = best.entry((col, p.2)).or_insert(p);
        if p.1 > e.1 {
            *e = p;
        }
    }
    let mut out: Vec<_> = best.into_values().collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
    out
}

/// How many variants' strongest |effect| falls in each of `BINS` equal bins of log10 |effect|, per group (all
/// tracks, then each class): one line per group. Log-scaled because a few indels' effects dwarf the SNVs'.
pub fn distribution(groups: &[(String, Vec<f32>)], stat: &str) -> Result<String, String> {
    const BINS: usize = 40;
    fonts();
    let logs = |v: &[f32]| -> Vec<f64> {
        v.iter().filter(|x| x.is_finite() && **x > 0.0).map(|&x| (x as f64).log10()).collect()
    };
    let all: Vec<f64> = groups.iter().flat_map(|(_, v)| logs(v)).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 1.0, lo + 1.0)
    } else {
        (-1.0, 1.0)
    };
    let width = (hi - lo) / BINS as f64;
    let counts: Vec<Vec<(f64, f64)>> = groups
        .iter()
        .map(|(_, values)| {
            let mut c = vec![0u64; BINS];
            for x in logs(values) {
                c[(((x - lo) / width) as usize).min(BINS - 1)] += 1;
            }
            c.iter().enumerate().map(|(i, &n)| (lo + (i as f64 + 0.5) * width, n as f64)).collect()
        })
        .collect();
    let ymax = counts.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(lo..hi, 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("strongest |{stat}| of a variant within the group (log scale)"))
            .x_label_formatter(&|x| format!("{:.2e}", 10f64.powf(*x)))
            .y_desc("variants")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (i, ((name, _), points)) in groups.iter().zip(&counts).enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One locus view's points: the scored variants with their effect (None: no value in the colouring group),
/// the input rows that were not scored, and the lead.
pub struct LocusView {
    pub chrom: String,
    pub start: i64,
    pub end: i64,
    /// (position, −log10 p, |effect|).
    pub scored: Vec<(i64, f64, Option<f32>)>,
    /// (position, −log10 p) of input rows with a p-value that were not scored (their status is in the table
    /// below the figure).
    pub unscored: Vec<(i64, f64)>,
    /// (position, −log10 p, name).
    pub lead: Option<(i64, f64, String)>,
}

/// A LocusZoom-style view: GWAS −log10 p along the region, each scored variant coloured by its predicted
/// |effect| on a scale shared by all loci (`scale_max`, the colour bar on the right), the rows not scored as
/// grey crosses, the lead circled and named; a legend says which mark is which.
pub fn locus(view: &LocusView, scale_max: f32, effect_label: &str) -> Result<String, String> {
    fonts();
    let ys = view.scored.iter().map(|p| p.1).chain(view.unscored.iter().map(|p| p.1));
    // Headroom above the highest point: the legend sits there, over no point.
    let ymax = ys.fold(1.0, f64::max) * 1.45;
    let (start, end) = (view.start as f64, (view.end as f64).max(view.start as f64 + 1.0));
    let scale = scale_max.max(f32::MIN_POSITIVE);
    let grey = RGBColor(170, 170, 170);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (main, legend) = root.split_horizontally(WIDTH - 110);
        let mut chart = ChartBuilder::on(&main)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(start..end, 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{} position (bp)", view.chrom))
            .y_desc("GWAS −log10 p")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        // Not scored first, so that a scored variant at the same place is drawn over it.
        if !view.unscored.is_empty() {
            chart
                .draw_series(view.unscored.iter().map(|&(x, y)| Cross::new((x as f64, y), 4, grey.stroke_width(2))))
                .map_err(err)?
                .label("not scored (status below)")
                .legend(move |(x, y)| Cross::new((x + 8, y), 4, grey.stroke_width(2)));
        }
        let (valued, valueless): (Vec<_>, Vec<_>) = view.scored.iter().partition(|p| p.2.is_some());
        if !valueless.is_empty() {
            chart
                .draw_series(valueless.iter().map(|&&(x, y, _)| Circle::new((x as f64, y), 5, grey.filled())))
                .map_err(err)?
                .label("scored, no value in the group")
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, grey.filled()));
        }
        let colour = |e: f32| ViridisRGB.get_color((e / scale).clamp(0.0, 1.0));
        chart
            .draw_series(
                valued.iter().map(|&&(x, y, e)| {
                    Circle::new((x as f64, y), 5, ShapeStyle::from(colour(e.unwrap_or(0.0))).filled())
                }),
            )
            .map_err(err)?
            .label("scored: colour = effect")
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, ViridisRGB.get_color(0.6).filled()));
        if let Some((x, y, name)) = &view.lead {
            chart
                .draw_series(std::iter::once(Circle::new((*x as f64, *y), 8, BLACK.stroke_width(2))))
                .map_err(err)?
                .label("lead")
                .legend(move |(x, y)| Circle::new((x + 8, y), 6, BLACK.stroke_width(2)));
            chart
                .draw_series(std::iter::once(Text::new(name.clone(), (*x as f64, *y), (FONT, 13).into_font())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 11))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
        let mut bar = ChartBuilder::on(&legend)
            .margin_top(10)
            .margin_bottom(46)
            .margin_right(10)
            .y_label_area_size(56)
            .caption(effect_label, (FONT, 11))
            .build_cartesian_2d(0f64..1.0, 0f64..scale as f64)
            .map_err(err)?;
        bar.configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_labels(0)
            .label_style((FONT, 11))
            .draw()
            .map_err(err)?;
        const STEPS: usize = 40;
        bar.draw_series((0..STEPS).map(|i| {
            let (a, b) = (i as f64 / STEPS as f64, (i + 1) as f64 / STEPS as f64);
            let c = ViridisRGB.get_color(((a + b) / 2.0) as f32);
            Rectangle::new([(0.0, a * scale as f64), (1.0, b * scale as f64)], c.filled())
        }))
        .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromosomes_sort_naturally() {
        let mut names = vec!["chr10", "chrX", "chr2", "scaffold_1", "chr1", "MT"];
        names.sort_by_key(|n| chromosome_key(n));
        assert_eq!(names, ["chr1", "chr2", "chr10", "chrX", "MT", "scaffold_1"]);
    }

    #[test]
    fn decimation_keeps_the_highest_point_per_column_and_chromosome() {
        let pts = vec![(0.0, 1.0, 0), (0.1, 3.0, 0), (0.1, 2.0, 1), (999.0, 5.0, 0)];
        let d = decimate(pts.into_iter(), 1000.0);
        assert_eq!(d, vec![(0.1, 3.0, 0), (0.1, 2.0, 1), (999.0, 5.0, 0)]);
    }
}
