//! Validation of a [`RawScenario`] into a [`Scenario`], section by section:
//! every value in range, with errors that name the field, the bad value and
//! what was expected.

use super::{
    CkmArea, GridAlign, MAX_CELL_RADIUS_M, MAX_HEX_RINGS, MAX_NAME_BYTES, MAX_SITE_COORDINATE_M,
    MAX_SPEED_MPS, PhaseModel, RawChannel, RawCkm, RawEpochs, RawNetwork, RawScenario, RawSensing,
    RawSite, RawUsers, Scenario, ScenarioError, SensingParams, dbm_to_w, invalid,
};
use crate::coordination;
use crate::geometry::{BsSite, Cells, Point, paper_sites, wrap_angle};
use crate::layout::{self, Wraparound};

fn check_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<f64, ScenarioError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(invalid(
            field,
            value,
            &format!("a finite number in [{lo}, {hi}]"),
        ))
    }
}

fn check_positive(field: &str, value: f64) -> Result<f64, ScenarioError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(invalid(field, value, "a finite number > 0"))
    }
}

fn check_count(field: &str, value: usize, lo: usize, hi: usize) -> Result<usize, ScenarioError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            field,
            value,
            &format!("an integer in [{lo}, {hi}]"),
        ))
    }
}

impl Scenario {
    /// Validate a raw scenario: each section in turn (the first bad field is
    /// the one reported), then the coordination rule over the network's cells.
    pub fn validate(raw: RawScenario) -> Result<Self, ScenarioError> {
        check_name(&raw.name)?;
        let n = &raw.network;
        let network = validate_network(n)?;
        let users = validate_users(&raw.users)?;
        let epochs = validate_epochs(&raw.epochs)?;
        let channel = validate_channel(&raw.channel)?;
        let ckm = validate_ckm(&raw.ckm, network.cell_radius_m, &network.sites)?;
        let sensing = validate_sensing(&raw.sensing)?;
        let drops = check_count("run.drops", raw.run.drops, 1, 100_000)?;
        if n.layout == "hex" {
            check_hex_cells(n, network.cell_radius_m, network.sector_half_width_deg)?;
        }
        let ValidNetwork {
            sites,
            wraparound,
            tx_antennas,
            rx_antennas,
            power_dbm,
            carrier_ghz,
            cell_radius_m,
            min_distance_m,
            sector_half_width_deg: sector,
        } = network;
        let cells = Cells {
            wraparound,
            ..Cells::new(
                sites.clone(),
                min_distance_m,
                cell_radius_m,
                sector.to_radians(),
            )
        };
        let coordination = coordination::rule(raw.coordination.as_ref(), sites.len())?;
        let neighbours =
            coordination::neighbour_sets(&cells, coordination, channel.path_loss_exponent)?;

        Ok(Scenario {
            name: raw.name.clone(),
            sites,
            wraparound,
            coordination,
            neighbours,
            tx_antennas,
            rx_antennas,
            power_w: dbm_to_w(power_dbm),
            carrier_hz: carrier_ghz * 1e9,
            cell_radius_m,
            min_distance_m,
            sector_half_width_rad: sector.to_radians(),
            users_per_cell: users.per_cell,
            max_scheduled: users.max_scheduled,
            speed_mps: users.speed_mps,
            force_schedule_after: users.force_schedule_after,
            epochs: epochs.count,
            epoch_s: epochs.duration_ms * 1e-3,
            backhaul_delay_s: epochs.backhaul_delay_ms * 1e-3,
            reference_path_loss: 10f64.powf(channel.reference_path_loss_db / 10.0),
            path_loss_exponent: channel.path_loss_exponent,
            paths: channel.paths,
            nlos_power_ratio: channel.nlos_power_ratio,
            inter_cell_phase_std_rad: channel.inter_cell_phase_std_rad,
            phase_model: channel.phase_model,
            snr_calibration: 10f64.powf(channel.snr_calibration_db / 10.0),
            correlation_distance_m: channel.correlation_distance_m,
            environment_seed: raw.channel.environment_seed,
            grid_m: ckm.grid_m,
            grid_origin_m: ckm.grid_origin_m,
            grid_align: ckm.grid_align,
            ckm_area: ckm.area,
            fill_radius_m: ckm.fill_radius_m,
            beams: ckm.beams,
            measured_fraction: ckm.measured_fraction,
            snapshots: ckm.snapshots,
            angle_bins: ckm.angle_bins,
            angle_range_rad: (
                ckm.angle_range_deg.0.to_radians(),
                ckm.angle_range_deg.1.to_radians(),
            ),
            sensing,
            drops,
            seed: raw.run.seed,
            raw,
        })
    }
}

/// The name fits the CKM file's string limit.
fn check_name(name: &str) -> Result<(), ScenarioError> {
    if name.len() > MAX_NAME_BYTES {
        let head: String = name.chars().take(32).collect();
        return Err(invalid(
            "name",
            format!("{head:?}… ({} bytes)", name.len()),
            &format!("a name of at most {MAX_NAME_BYTES} bytes (the CKM file's string limit)"),
        ));
    }
    Ok(())
}

/// `[network]`, checked; in the file's units (dBm, GHz, degrees).
struct ValidNetwork {
    sites: Vec<BsSite>,
    wraparound: Option<Wraparound>,
    tx_antennas: usize,
    rx_antennas: usize,
    power_dbm: f64,
    carrier_ghz: f64,
    cell_radius_m: f64,
    min_distance_m: f64,
    sector_half_width_deg: f64,
}

fn validate_network(n: &RawNetwork) -> Result<ValidNetwork, ScenarioError> {
    let (sites, wraparound) = network_sites(n)?;
    let tx_antennas = check_count("network.tx_antennas", n.tx_antennas, 1, 1024)?;
    let rx_antennas = check_count("network.rx_antennas", n.rx_antennas, 1, 1024)?;
    let power_dbm = check_range("network.power_dbm", n.power_dbm, -30.0, 80.0)?;
    let carrier_ghz = check_range("network.carrier_ghz", n.carrier_ghz, 0.1, 300.0)?;
    let cell_radius_m = check_range(
        "network.cell_radius_m",
        n.cell_radius_m,
        1.0,
        MAX_CELL_RADIUS_M,
    )?;
    let min_distance_m = check_range(
        "network.min_distance_m",
        n.min_distance_m,
        0.1,
        cell_radius_m,
    )?;
    if min_distance_m >= cell_radius_m {
        return Err(invalid(
            "network.min_distance_m",
            min_distance_m,
            "a distance smaller than network.cell_radius_m",
        ));
    }
    let sector_half_width_deg = check_range(
        "network.sector_half_width_deg",
        n.sector_half_width_deg,
        1.0,
        90.0,
    )?;
    Ok(ValidNetwork {
        sites,
        wraparound,
        tx_antennas,
        rx_antennas,
        power_dbm,
        carrier_ghz,
        cell_radius_m,
        min_distance_m,
        sector_half_width_deg,
    })
}

/// `[users]`, checked.
struct ValidUsers {
    per_cell: usize,
    max_scheduled: usize,
    speed_mps: f64,
    force_schedule_after: usize,
}

fn validate_users(u: &RawUsers) -> Result<ValidUsers, ScenarioError> {
    Ok(ValidUsers {
        per_cell: check_count("users.per_cell", u.per_cell, 1, 100_000)?,
        max_scheduled: check_count("users.max_scheduled", u.max_scheduled, 1, 100_000)?,
        speed_mps: check_range("users.speed_mps", u.speed_mps, 0.0, MAX_SPEED_MPS)?,
        force_schedule_after: check_count(
            "users.force_schedule_after",
            u.force_schedule_after,
            1,
            1_000_000,
        )?,
    })
}

/// `[epochs]`, checked; in milliseconds.
struct ValidEpochs {
    count: usize,
    duration_ms: f64,
    backhaul_delay_ms: f64,
}

fn validate_epochs(e: &RawEpochs) -> Result<ValidEpochs, ScenarioError> {
    let count = check_count("epochs.count", e.count, 1, 1_000_000)?;
    let duration_ms = check_positive("epochs.duration_ms", e.duration_ms)?;
    let delay_ms = check_range(
        "epochs.backhaul_delay_ms",
        e.backhaul_delay_ms,
        0.0,
        f64::MAX,
    )?;
    if delay_ms >= duration_ms {
        return Err(invalid(
            "epochs.backhaul_delay_ms",
            delay_ms,
            "a delay shorter than epochs.duration_ms (messages must arrive within the epoch)",
        ));
    }
    Ok(ValidEpochs {
        count,
        duration_ms,
        backhaul_delay_ms: delay_ms,
    })
}

/// `[channel]`, checked; path loss and SNR still in dB.
struct ValidChannel {
    reference_path_loss_db: f64,
    path_loss_exponent: f64,
    paths: usize,
    nlos_power_ratio: (f64, f64),
    inter_cell_phase_std_rad: f64,
    phase_model: PhaseModel,
    snr_calibration_db: f64,
    correlation_distance_m: f64,
}

fn validate_channel(c: &RawChannel) -> Result<ValidChannel, ScenarioError> {
    let alpha0_db = check_range(
        "channel.reference_path_loss_db",
        c.reference_path_loss_db,
        -200.0,
        0.0,
    )?;
    let exponent = check_range("channel.path_loss_exponent", c.path_loss_exponent, 1.0, 6.0)?;
    let paths = check_count("channel.paths", c.paths, 1, 64)?;
    let [rho_lo, rho_hi] = c.nlos_power_ratio;
    check_positive("channel.nlos_power_ratio[0]", rho_lo)?;
    check_positive("channel.nlos_power_ratio[1]", rho_hi)?;
    if rho_lo > rho_hi {
        return Err(invalid(
            "channel.nlos_power_ratio",
            format!("[{rho_lo}, {rho_hi}]"),
            "[lo, hi] with lo <= hi",
        ));
    }
    let phase_std = check_range(
        "channel.inter_cell_phase_std_rad",
        c.inter_cell_phase_std_rad,
        0.0,
        10.0,
    )?;
    let phase_model = match c.phase_model.as_str() {
        "paper" => PhaseModel::Paper,
        "uniform" => PhaseModel::Uniform,
        other => {
            return Err(invalid(
                "channel.phase_model",
                format!("{other:?}"),
                "\"paper\" or \"uniform\"",
            ));
        }
    };
    let snr_db = check_range(
        "channel.snr_calibration_db",
        c.snr_calibration_db,
        -50.0,
        100.0,
    )?;
    let corr = check_range(
        "channel.correlation_distance_m",
        c.correlation_distance_m,
        0.01,
        1e4,
    )?;
    Ok(ValidChannel {
        reference_path_loss_db: alpha0_db,
        path_loss_exponent: exponent,
        paths,
        nlos_power_ratio: (rho_lo, rho_hi),
        inter_cell_phase_std_rad: phase_std,
        phase_model,
        snr_calibration_db: snr_db,
        correlation_distance_m: corr,
    })
}

/// `[ckm]`, checked; the angle range still in degrees.
struct ValidCkm {
    grid_m: f64,
    grid_origin_m: Point,
    grid_align: GridAlign,
    area: CkmArea,
    fill_radius_m: f64,
    beams: usize,
    measured_fraction: f64,
    snapshots: usize,
    angle_bins: usize,
    angle_range_deg: (f64, f64),
}

/// `[ckm]`; the network's cell radius and sites bound the grid's size.
fn validate_ckm(
    k: &RawCkm,
    cell_radius_m: f64,
    sites: &[BsSite],
) -> Result<ValidCkm, ScenarioError> {
    let grid_m = check_range("ckm.grid_m", k.grid_m, 0.01, 1000.0)?;
    let [x0, y0] = k.grid_origin_m.unwrap_or([0.0, 0.0]);
    let grid_origin_m = Point::new(
        check_range(
            "ckm.grid_origin_m[0]",
            x0,
            -MAX_SITE_COORDINATE_M,
            MAX_SITE_COORDINATE_M,
        )?,
        check_range(
            "ckm.grid_origin_m[1]",
            y0,
            -MAX_SITE_COORDINATE_M,
            MAX_SITE_COORDINATE_M,
        )?,
    );
    let grid_align = k.grid_align.unwrap_or(GridAlign::Origin);
    let ckm_area = k.area.unwrap_or(CkmArea::Cells);
    let fill_radius_m = match k.fill_radius_m {
        None => 2.0 * grid_m,
        Some(r) => check_range("ckm.fill_radius_m", r, 0.0, 50.0 * grid_m)?,
    };
    if k.fill_radius_m.is_some() && ckm_area != CkmArea::Data {
        return Err(invalid(
            "ckm.fill_radius_m",
            fill_radius_m,
            "no fill_radius_m without area = \"data\" (the cells rule fills the whole area)",
        ));
    }
    if grid_align == GridAlign::Data && k.grid_origin_m.is_some() {
        return Err(invalid(
            "ckm.grid_origin_m",
            format!("[{x0}, {y0}]"),
            "no grid_origin_m with grid_align = \"data\" (the lattice comes from the log)",
        ));
    }
    let beams = check_count("ckm.beams", k.beams, 1, 4096)?;
    let measured_fraction = check_range("ckm.measured_fraction", k.measured_fraction, 1e-6, 1.0)?;
    let snapshots = check_count("ckm.snapshots", k.snapshots, 1, 10_000)?;
    let angle_bins = check_count("ckm.angle_bins", k.angle_bins, 1, 100_000)?;
    let [amin, amax] = k.angle_range_deg;
    check_range("ckm.angle_range_deg[0]", amin, -90.0, 90.0)?;
    check_range("ckm.angle_range_deg[1]", amax, -90.0, 90.0)?;
    if amin >= amax {
        return Err(invalid(
            "ckm.angle_range_deg",
            format!("[{amin}, {amax}]"),
            "[min, max] with min < max",
        ));
    }
    check_ckm_grid_size(grid_m, cell_radius_m, sites)?;
    Ok(ValidCkm {
        grid_m,
        grid_origin_m,
        grid_align,
        area: ckm_area,
        fill_radius_m,
        beams,
        measured_fraction,
        snapshots,
        angle_bins,
        angle_range_deg: (amin, amax),
    })
}

/// The CKM area must not be absurdly large for the grid (guards memory).
fn check_ckm_grid_size(
    grid_m: f64,
    cell_radius_m: f64,
    sites: &[BsSite],
) -> Result<(), ScenarioError> {
    let extent = 2.0
        * (cell_radius_m
            + sites
                .iter()
                .map(|s| s.position.x.abs().max(s.position.y.abs()))
                .fold(0.0, f64::max));
    let cells_per_bs = (extent / grid_m).powi(2);
    if cells_per_bs > 5e8 {
        return Err(invalid(
            "ckm.grid_m",
            grid_m,
            &format!(
                "a grid with fewer than 5e8 cells over the {extent:.0} m area (got {cells_per_bs:.2e})"
            ),
        ));
    }
    Ok(())
}

/// `[sensing]`, in SI units.
fn validate_sensing(s: &RawSensing) -> Result<SensingParams, ScenarioError> {
    Ok(SensingParams {
        error_scale_theta: check_positive("sensing.error_scale_theta", s.error_scale_theta)?,
        error_scale_tau: check_positive("sensing.error_scale_tau", s.error_scale_tau)?,
        error_scale_mu: check_positive("sensing.error_scale_mu", s.error_scale_mu)?,
        matched_filter_gain: check_positive("sensing.matched_filter_gain", s.matched_filter_gain)?,
        threshold: check_positive("sensing.threshold", s.threshold)?,
        reflection_coefficient: check_positive(
            "sensing.reflection_coefficient",
            s.reflection_coefficient,
        )?,
        echo_noise_w: dbm_to_w(check_range(
            "sensing.echo_noise_dbm",
            s.echo_noise_dbm,
            -250.0,
            50.0,
        )?),
    })
}

/// The sites of `[network]` and, for a hex layout with wrap-around, its
/// wrap-around.
fn network_sites(n: &RawNetwork) -> Result<(Vec<BsSite>, Option<Wraparound>), ScenarioError> {
    if n.layout != "hex" {
        let hex_only = [
            ("rings", n.rings.is_some()),
            ("isd_m", n.isd_m.is_some()),
            ("sectors", n.sectors.is_some()),
            ("sector_broadsides_deg", n.sector_broadsides_deg.is_some()),
            ("wraparound", n.wraparound.is_some()),
        ];
        if let Some((key, _)) = hex_only.iter().find(|(_, set)| *set) {
            return Err(invalid(
                &format!("network.{key}"),
                format!("set with layout = {:?}", n.layout),
                "no hex fields unless layout = \"hex\"",
            ));
        }
    }
    match n.layout.as_str() {
        "paper" => {
            if !n.sites.is_empty() {
                return Err(invalid(
                    "network.sites",
                    format!("{} sites", n.sites.len()),
                    "no sites with layout = \"paper\" (use layout = \"explicit\")",
                ));
            }
            Ok((paper_sites(), None))
        }
        "explicit" => explicit_sites(&n.sites).map(|s| (s, None)),
        "hex" => hex_layout(n),
        other => Err(invalid(
            "network.layout",
            format!("{other:?}"),
            "\"paper\", \"explicit\" or \"hex\"",
        )),
    }
}

/// Explicit sites: coordinates in range; two sites closer than 1 m must be
/// co-located sectors (the same position, broadsides at least 1° apart).
fn explicit_sites(raw: &[RawSite]) -> Result<Vec<BsSite>, ScenarioError> {
    if raw.is_empty() {
        return Err(invalid(
            "network.sites",
            "[]",
            "at least one site with layout = \"explicit\"",
        ));
    }
    let mut sites = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let field = |f: &str| format!("network.sites[{i}].{f}");
        let lim = MAX_SITE_COORDINATE_M;
        check_range(&field("x_m"), s.x_m, -lim, lim)?;
        check_range(&field("y_m"), s.y_m, -lim, lim)?;
        check_range(&field("broadside_deg"), s.broadside_deg, -360.0, 360.0)?;
        sites.push(BsSite {
            position: Point::new(s.x_m, s.y_m),
            broadside_rad: s.broadside_deg.to_radians(),
        });
    }
    for i in 0..sites.len() {
        for j in 0..i {
            let (a, b) = (sites[i], sites[j]);
            let apart = a.position.distance(b.position);
            let turn = wrap_angle(a.broadside_rad - b.broadside_rad).abs();
            let sector_of_site = apart == 0.0 && turn >= 1f64.to_radians() - 1e-12;
            if apart < 1.0 && !sector_of_site {
                return Err(invalid(
                    &format!("network.sites[{i}]"),
                    format!(
                        "({}, {}) with broadside {}°",
                        a.position.x, a.position.y, raw[i].broadside_deg
                    ),
                    &format!(
                        "a site at least 1 m from site {j}, or a co-located sector of it \
                         (the same x_m, y_m and a broadside_deg at least 1° from its)"
                    ),
                ));
            }
        }
    }
    Ok(sites)
}

/// The sites (and wrap-around) of `layout = "hex"`.
fn hex_layout(n: &RawNetwork) -> Result<(Vec<BsSite>, Option<Wraparound>), ScenarioError> {
    if !n.sites.is_empty() {
        return Err(invalid(
            "network.sites",
            format!("{} sites", n.sites.len()),
            "no sites with layout = \"hex\" (they follow from rings and isd_m)",
        ));
    }
    let rings = n.rings.ok_or_else(|| {
        invalid(
            "network.rings",
            "missing",
            &format!("an integer in [0, {MAX_HEX_RINGS}] with layout = \"hex\""),
        )
    })?;
    let rings = check_count("network.rings", rings, 0, MAX_HEX_RINGS)?;
    let isd_m = n.isd_m.ok_or_else(|| {
        invalid(
            "network.isd_m",
            "missing",
            "an inter-site distance in m with layout = \"hex\"",
        )
    })?;
    let isd_m = check_range("network.isd_m", isd_m, 1.0, 1e5)?;
    let sectors = n.sectors.unwrap_or(3);
    if sectors != 1 && sectors != 3 {
        return Err(invalid("network.sectors", sectors, "1 or 3"));
    }
    let broadsides_deg = match &n.sector_broadsides_deg {
        None => layout::DEFAULT_SECTOR_BROADSIDES_DEG[..sectors].to_vec(),
        Some(v) if v.len() != sectors => {
            return Err(invalid(
                "network.sector_broadsides_deg",
                format!("{v:?} ({} numbers)", v.len()),
                &format!("one broadside per sector ({sectors} numbers, network.sectors)"),
            ));
        }
        Some(v) => v.clone(),
    };
    for (i, &deg) in broadsides_deg.iter().enumerate() {
        let field = format!("network.sector_broadsides_deg[{i}]");
        check_range(&field, deg, -360.0, 360.0)?;
        for (j, &other) in broadsides_deg[..i].iter().enumerate() {
            if wrap_angle((deg - other).to_radians()).abs() < 1f64.to_radians() - 1e-12 {
                return Err(invalid(
                    &field,
                    deg,
                    &format!("a broadside at least 1° from sector {j}'s ({other}°)"),
                ));
            }
        }
    }
    let rad: Vec<f64> = broadsides_deg.iter().map(|d| d.to_radians()).collect();
    let wrap = n.wraparound.unwrap_or(false);
    Ok((
        layout::hex_sites(rings, isd_m, &rad),
        wrap.then(|| Wraparound::hex(rings, isd_m)),
    ))
}

/// Hex cells must reach their Voronoi hexagon's corners (no gaps at the
/// corners), and 3 sectors must cover their site's full circle.
fn check_hex_cells(
    n: &RawNetwork,
    cell_radius_m: f64,
    half_width_deg: f64,
) -> Result<(), ScenarioError> {
    let isd_m = n.isd_m.unwrap_or(0.0);
    let corner = isd_m / 3f64.sqrt();
    if cell_radius_m < corner - 1e-9 {
        return Err(invalid(
            "network.cell_radius_m",
            cell_radius_m,
            &format!(
                "at least isd_m/√3 = {corner:.3} m with layout = \"hex\" (the site hexagon's \
                 corner; a smaller radius leaves gaps between cells)"
            ),
        ));
    }
    if n.sectors.unwrap_or(3) == 3 && half_width_deg < 60.0 {
        return Err(invalid(
            "network.sector_half_width_deg",
            half_width_deg,
            "at least 60 with 3 sectors per site (3 × ±60° cover the circle; less leaves gaps)",
        ));
    }
    Ok(())
}
