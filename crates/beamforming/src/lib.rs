//! Beamforming: DualOpt ISAC-SALINR, clarabel reference, SLINR, FP-SALINR, WMMSE, true-SINR evaluator
