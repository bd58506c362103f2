//! The embedded font (DejaVu Sans), registered once as "sans-serif" so
//! figures need no system font packages.

use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family name every figure asks plotters for.
pub const FONT_NAME: &str = "sans-serif";

/// Register the embedded font with plotters (idempotent).
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT_NAME, plotters::style::FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
    });
}
