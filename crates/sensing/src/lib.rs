//! ISAC sensing: echo-based estimation errors (16), location and speed estimates, prediction
