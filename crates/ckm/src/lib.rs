//! Channel knowledge maps: OLS angular-power-spectrum recovery, gap filling, queries
