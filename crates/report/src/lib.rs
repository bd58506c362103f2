//! Figures and the generated paper report
