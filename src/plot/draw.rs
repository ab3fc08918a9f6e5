//! One variant's figure: per track, a panel with the ref and alt predictions along the bins and a panel with
//! alt − ref below it; genomic coordinates on the x axis, the variant marked by a vertical line. The same
//! drawing code renders to SVG and to PNG (plotters backends; the font is bundled).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::figure::{err, fonts, FONT, PALETTE};

const WIDTH: u32 = 1200;
const PANEL: u32 = 170;
const TITLE: u32 = 40;

pub struct Figure {
    pub title: String,
    pub chrom: String,
    pub variant_pos: i64,
    /// Genomic position (1-based) of each bin's centre.
    pub x: Vec<i64>,
    /// (label, ref, alt) per track, one value per bin.
    pub tracks: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Figure {
    fn height(&self) -> u32 {
        TITLE + 2 * PANEL * self.tracks.len().max(1) as u32
    }

    pub fn svg(&self) -> Result<String, String> {
        fonts();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, self.height())).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(err)?;
        }
        Ok(out)
    }

    pub fn png(&self, path: &Path) -> Result<(), String> {
        fonts();
        let root = BitMapBackend::new(path, (WIDTH, self.height())).into_drawing_area();
        self.draw(&root)?;
        root.present().map_err(err)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (title, body) = root.split_vertically(TITLE);
        title.draw(&Text::new(self.title.clone(), (10, 10), (FONT, 20).into_font().color(&BLACK))).map_err(err)?;
        let (x0, x1) = match (self.x.first(), self.x.last()) {
            // Half a bin of room on each side: a point on the very edge can round outside the plotting
            // area, where plotters clips the line and splits the series.
            (Some(&a), Some(&b)) if b > a => (a as f64 - 64.0, b as f64 + 64.0),
            _ => (self.variant_pos as f64 - 1.0, self.variant_pos as f64 + 1.0),
        };
        let panels = body.split_evenly((2 * self.tracks.len().max(1), 1));
        for (k, (label, r, a)) in self.tracks.iter().enumerate() {
            let diff: Vec<f64> = a.iter().zip(r).map(|(a, r)| a - r).collect();
            let ymax = r.iter().chain(a).copied().filter(|v| v.is_finite()).fold(0f64, f64::max).max(1e-9) * 1.05;
            let ymin = r.iter().chain(a).copied().filter(|v| v.is_finite()).fold(0f64, f64::min) * 1.05;
            let dmax = diff.iter().copied().filter(|v| v.is_finite()).fold(0f64, |m, v| m.max(v.abs())).max(1e-9) * 1.1;
            let series: [(&[f64], RGBColor, &str); 2] = [(r, PALETTE[0], "ref"), (a, PALETTE[1], "alt")];
            // Upper panel: ref and alt overlaid.
            let mut chart = ChartBuilder::on(&panels[2 * k])
                .margin(6)
                .caption(format!("{label}: ref (blue), alt (orange)"), (FONT, 14))
                .x_label_area_size(20)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, ymin..ymax)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_desc("prediction")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .label_style((FONT, 11))
                .draw()
                .map_err(err)?;
            for (values, colour, _) in series {
                chart
                    .draw_series(LineSeries::new(
                        self.x.iter().zip(values).map(|(&x, &y)| (x as f64, y)),
                        colour.stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            self.mark(&mut chart, ymin, ymax)?;
            // Lower panel: the difference.
            let mut chart = ChartBuilder::on(&panels[2 * k + 1])
                .margin(6)
                .x_label_area_size(34)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, -dmax..dmax)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_desc("alt − ref")
                .x_desc(format!("{} position (bp), bins of 128 bp", self.chrom))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .label_style((FONT, 11))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    self.x.iter().zip(&diff).map(|(&x, &y)| (x as f64, y)),
                    PALETTE[2].stroke_width(1),
                ))
                .map_err(err)?;
            self.mark(&mut chart, -dmax, dmax)?;
        }
        Ok(())
    }

    /// The variant's position: a dashed-looking thin grey vertical line (a rectangle, not a series, so that
    /// the figure's line series are exactly ref, alt and difference per track).
    fn mark<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            DB,
            Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
        >,
        lo: f64,
        hi: f64,
    ) -> Result<(), String> {
        let x = self.variant_pos as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new([(x, lo), (x, hi)], RGBColor(80, 80, 80).stroke_width(1))))
            .map_err(err)?;
        Ok(())
    }
}
