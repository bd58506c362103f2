//! Engine tests on the smoke scenario with a CKM built from the true paths.

use std::sync::Arc;

use sdusc_ckm::query::CkmMap;
use sdusc_ckm::truth::oracle_ckm;
use sdusc_formats::traj::{TrajRow, rows_of_drop};
use sdusc_model::Scenario;
use sdusc_model::geometry::Cells;
use sdusc_model::mobility::generate_drop;
use sdusc_sim::engine::accumulated_pfr;
use sdusc_sim::scheme::SCHEME_NAMES;
use sdusc_sim::{RunOptions, Scheme, World, run_scheme_drop};

fn scenario(epochs: usize) -> Scenario {
    let mut raw = Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke")
        .unwrap()
        .raw;
    raw.epochs.count = epochs;
    Scenario::validate(raw).unwrap()
}

fn rows(s: &Scenario, drops: usize) -> Vec<TrajRow> {
    let cells = Cells::from_scenario(s);
    (0..drops)
        .flat_map(|d| rows_of_drop(d as u32, &generate_drop(s, &cells, 3, d)))
        .collect()
}

/// CKMs holding the true large-scale paths.
fn true_ckms(world: &World) -> Vec<Option<Arc<CkmMap>>> {
    (0..world.scenario.num_bs())
        .map(|b| {
            Some(Arc::new(CkmMap::new(oracle_ckm(
                &world.scenario,
                &world.env,
                b,
            ))))
        })
        .collect()
}

fn opts() -> RunOptions {
    RunOptions {
        seed: 5,
        timing: false,
        ..RunOptions::default()
    }
}

#[test]
fn every_scheme_runs_end_to_end_with_finite_metrics() {
    let s = scenario(3);
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let ckms = true_ckms(&world);
    let names = SCHEME_NAMES
        .iter()
        .map(|n| n.to_string())
        .chain(["sd-uscb:sensing=perfect".to_string()]);
    for name in names {
        let name = name.as_str();
        let out = run_scheme_drop(
            &world,
            &truth,
            &ckms,
            &Scheme::parse(name).unwrap(),
            &opts(),
        )
        .unwrap();
        assert_eq!(out.epochs.len(), 3, "{name}");
        assert_eq!(out.users.len(), 3 * world.num_users());
        assert_eq!(out.bs.len(), 3 * s.num_bs());
        for r in &out.epochs {
            assert!(
                r.accumulated_pfr.is_finite() && r.sum_rate_bps_hz > 0.0,
                "{name}: {r:?}"
            );
        }
        for r in &out.users {
            if name.ends_with("sensing=perfect") {
                assert!(r.location_error_m.unwrap() < 1e-6, "oracle fixes are exact");
            }
            assert!(r.rate_bps_hz.is_finite() && r.rate_bps_hz >= 0.0);
            assert_eq!(r.scheduled, r.sinr_db.is_some());
        }
        for r in &out.bs {
            assert!(
                r.n_scheduled as usize
                    <= if name == "sd-uscb-all-users" {
                        s.users_per_cell
                    } else {
                        s.max_scheduled
                    }
            );
        }
    }
}

#[test]
fn agents_decide_without_inter_cell_truth() {
    // Perturbing the true inter-cell channels changes what the world
    // evaluates but nothing an SD-USCB agent decides in that epoch.
    let s = scenario(1);
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let mut perturbed = truth.clone();
    let (l, k, nt) = perturbed.epochs[0].channels.dim();
    for m in 0..l {
        for u in 0..k {
            if world.serving_bs(u) != m {
                for i in 0..nt {
                    let z = &mut perturbed.epochs[0].channels[(m, u, i)];
                    *z = *z * 3.0 + sdusc_model::C64::new(1e-6, -2e-6);
                }
            }
        }
    }
    let ckms = true_ckms(&world);
    let decisions = |t, name: &str| {
        let out =
            run_scheme_drop(&world, t, &ckms, &Scheme::parse(name).unwrap(), &opts()).unwrap();
        let sched: Vec<bool> = out.users.iter().map(|r| r.scheduled).collect();
        let objective: Vec<f64> = out.bs.iter().map(|r| r.objective).collect();
        let sum_rate = out.epochs[0].sum_rate_bps_hz;
        (sched, objective, sum_rate)
    };
    for name in ["sd-uscb", "sd-uscb-slinr", "pwmmse"] {
        let (s1, o1, r1) = decisions(&truth, name);
        let (s2, o2, r2) = decisions(&perturbed, name);
        assert_eq!(s1, s2, "{name}: schedule changed");
        assert_eq!(o1, o2, "{name}: beamforming changed");
        assert_ne!(r1, r2, "{name}: the perturbation must reach the evaluation");
    }
    // A scheme that is *given* true inter-cell CSI does react: the test can fail.
    let (_, o1, _) = decisions(&truth, "fp-salinr-perfect");
    let (_, o2, _) = decisions(&perturbed, "fp-salinr-perfect");
    assert_ne!(o1, o2);
}

#[test]
fn serial_and_parallel_agents_give_identical_metrics() {
    let s = scenario(3);
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let ckms = true_ckms(&world);
    for name in ["sd-uscb", "cwmmse"] {
        let scheme = Scheme::parse(name).unwrap();
        let par = run_scheme_drop(&world, &truth, &ckms, &scheme, &opts()).unwrap();
        let ser = run_scheme_drop(
            &world,
            &truth,
            &ckms,
            &scheme,
            &RunOptions {
                parallel_agents: false,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(par, ser, "{name}");
    }
}

#[test]
fn pf_averages_and_pfr_recompute_from_user_rows() {
    let s = scenario(4);
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let out = run_scheme_drop(
        &world,
        &truth,
        &true_ckms(&world),
        &Scheme::parse("sd-uscb").unwrap(),
        &opts(),
    )
    .unwrap();
    let users = world.num_users();
    let mut sum = vec![0.0; users];
    for e in 1..=4u32 {
        let rows: Vec<_> = out.users.iter().filter(|r| r.epoch == e).collect();
        assert_eq!(rows.len(), users);
        for r in &rows {
            sum[r.user_id as usize] += r.rate_bps_hz;
            let avg = sum[r.user_id as usize] / e as f64;
            assert!((avg - r.avg_rate_bps_hz).abs() < 1e-9 * avg.max(1.0));
        }
        let avgs: Vec<f64> = sum.iter().map(|x| x / e as f64).collect();
        let ep = out.epochs.iter().find(|r| r.epoch == e).unwrap();
        assert!((accumulated_pfr(&avgs) - ep.accumulated_pfr).abs() < 1e-9);
        let pfr: f64 = avgs
            .iter()
            .map(|r| r.max(sdusc_sim::RATE_FLOOR_BPS_HZ).ln())
            .sum();
        assert!((pfr - ep.accumulated_pfr).abs() < 1e-9);
        assert_eq!(
            ep.users_unserved as usize,
            avgs.iter().filter(|&&r| r == 0.0).count()
        );
        let total: f64 = rows.iter().map(|r| r.rate_bps_hz).sum();
        assert!((total - ep.sum_rate_bps_hz).abs() < 1e-9);
    }
}

#[test]
fn location_exchange_costs_exactly_its_encoding() {
    let s = scenario(2);
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let out = run_scheme_drop(
        &world,
        &truth,
        &true_ckms(&world),
        &Scheme::parse("sd-uscb").unwrap(),
        &opts(),
    )
    .unwrap();
    let l = s.num_bs() as u64;
    for r in &out.bs {
        assert_eq!(
            r.backhaul_tx_bytes,
            (l - 1) * (4 + 8 * r.n_scheduled as u64)
        );
        let others: u64 = out
            .bs
            .iter()
            .filter(|o| o.epoch == r.epoch && o.bs_id != r.bs_id)
            .map(|o| 4 + 8 * o.n_scheduled as u64)
            .sum();
        assert_eq!(r.backhaul_rx_bytes, others);
    }
    // SD-USCB-robust: each location carries its covariance, 3 more bytes.
    let robust = run_scheme_drop(
        &world,
        &truth,
        &true_ckms(&world),
        &Scheme::parse("sd-uscb-robust").unwrap(),
        &opts(),
    )
    .unwrap();
    for r in &robust.bs {
        assert_eq!(
            r.backhaul_tx_bytes,
            (l - 1) * (4 + 11 * r.n_scheduled as u64)
        );
    }
    let pw = run_scheme_drop(
        &world,
        &truth,
        &true_ckms(&world),
        &Scheme::parse("pwmmse").unwrap(),
        &opts(),
    )
    .unwrap();
    assert!(
        pw.bs
            .iter()
            .all(|r| r.backhaul_tx_bytes == 0 && r.backhaul_rx_bytes == 0)
    );
    assert!(
        pw.users
            .iter()
            .all(|r| r.location_nees.is_none() && !r.echo_gated)
    );
}

#[test]
fn sensed_locations_are_reported_and_fixed_schedules_stay_fixed() {
    let s = scenario(4);
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let out = run_scheme_drop(
        &world,
        &truth,
        &true_ckms(&world),
        &Scheme::parse("sd-uscb:fixed=true").unwrap(),
        &opts(),
    )
    .unwrap();
    assert!(out.users.iter().all(|r| {
        r.location_error_m
            .is_some_and(|e| e.is_finite() && e >= 0.0)
            && r.location_nees
                .is_some_and(|d2| d2.is_finite() && d2 >= 0.0)
    }));
    let sched = |e: u32| -> Vec<u32> {
        out.users
            .iter()
            .filter(|r| r.epoch == e && r.scheduled)
            .map(|r| r.user_id)
            .collect()
    };
    for e in 2..=4 {
        assert_eq!(sched(e), sched(1));
    }
    // Echoes arrive from epoch 2 on for the users served in epoch 1.
    assert!(
        out.users
            .iter()
            .filter(|r| r.epoch == 2)
            .any(|r| r.sensing_var_theta.is_some())
    );
}

#[test]
fn mismatched_trajectories_are_refused() {
    let s = scenario(3);
    let world = World::new(s.clone());
    let mut r = rows(&s, 1);
    assert!(
        world
            .drop_truth(&r, 4, 5)
            .unwrap_err()
            .to_string()
            .contains("drop 4")
    );
    r.pop();
    assert!(
        world
            .drop_truth(&r, 0, 5)
            .unwrap_err()
            .to_string()
            .contains("expected")
    );
    let mut r = rows(&s, 1);
    r[0].bs_id = (r[0].bs_id + 1) % 3;
    assert!(world.drop_truth(&r, 0, 5).is_err());
}

/// Neighbour-limited coordination (SPEC §14.3): locations go only to the
/// BSs that coordinate with the sender, each BS's leakage sees only its
/// neighbours' users, and every BS still interferes in the evaluation.
#[test]
fn locations_go_only_to_neighbours() {
    let text = include_str!("../../../pipelines/smoke.toml")
        .replace(
            "layout = \"paper\"",
            "layout = \"hex\"\nrings = 0\nisd_m = 200.0\nwraparound = true",
        )
        .replace("count = 4", "count = 2");
    let text = format!("{text}\n[coordination]\nneighbours = \"count\"\ncount = 1\n");
    let s = Scenario::from_toml(&text, "hex-smoke").unwrap();
    let n = s.neighbours.clone().unwrap();
    assert!(n.iter().all(|set| set.len() == 1));
    let world = World::new(s.clone());
    let truth = world.drop_truth(&rows(&s, 1), 0, 5).unwrap();
    let out = run_scheme_drop(
        &world,
        &truth,
        &true_ckms(&world),
        &Scheme::parse("sd-uscb").unwrap(),
        &opts(),
    )
    .unwrap();
    let scheduled = |epoch: u32, b: usize| {
        out.bs
            .iter()
            .find(|o| o.epoch == epoch && o.bs_id as usize == b)
            .map(|o| 4 + 8 * o.n_scheduled as u64)
            .unwrap()
    };
    for r in &out.bs {
        let b = r.bs_id as usize;
        let audience = (0..s.num_bs()).filter(|&l| n[l].contains(&b)).count() as u64;
        assert_eq!(r.backhaul_tx_bytes, audience * scheduled(r.epoch, b));
        let heard: u64 = n[b].iter().map(|&m| scheduled(r.epoch, m)).sum();
        assert_eq!(r.backhaul_rx_bytes, heard, "BS {b} epoch {}", r.epoch);
    }
}
