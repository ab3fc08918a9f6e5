//! Shared figure plumbing for `report` and `plot`: the bundled font (so that drawing needs no system fonts or
//! fontconfig: the same bytes on every machine) and the colours.

use std::sync::Once;

use plotters::style::{FontStyle, RGBColor};

/// The font family every figure asks for; registered once with DejaVu Sans from the `dejavu` crate.
pub const FONT: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers the bundled font with plotters; every drawing function calls this first.
pub fn fonts() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType font compiled into the binary; failure would be a build defect.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Colour-blind-safe categorical palette (Okabe–Ito), for series and alternating chromosomes.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

/// A drawing error of plotters as text (its error type is generic over the backend).
pub fn err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing failed: {e}")
}
