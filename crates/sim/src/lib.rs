//! Epoch engine: world, BS agents behind an information boundary, backhaul, schemes, metrics
